//! An in-memory [`Disk`] with a power-failure model, for tests and the
//! madsim tier (madsim's own file system has no crash model).
//!
//! Every file keeps its durable contents (as of its last sync) and the list
//! of operations since. Every directory keeps the name changes since its
//! last sync. [`MemDisk::crash`] then decides, from a caller-given seed,
//! how much of the unsynced work reached the platter:
//! - per file, a prefix of its unsynced writes survives, and the first lost
//!   write may be torn (a prefix of its bytes lands);
//! - per directory, a prefix of its unsynced creates/renames/removes survives.
//!
//! Unsynced writes are kept or lost *in order*: out-of-order page write-back
//! (a later unsynced record durable while an earlier one is lost) is not
//! modelled, because recovery treats "bad record, then a good one" as
//! corruption in the middle of the log, which the checksum of synced data
//! makes the right call for every failure except that one.
//! Directories themselves are created durably at once.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::disk::{parent_dir, Disk, DiskFile};

/// A simulated disk shared by clones (like a real disk shared by handles).
#[derive(Clone, Debug, Default)]
pub struct MemDisk {
    state: Arc<Mutex<MemState>>,
}

/// A handle to a file on a [`MemDisk`]; it stops working after a crash.
#[derive(Debug)]
pub struct MemFile {
    state: Arc<Mutex<MemState>>,
    inode: u64,
    generation: u64,
}

#[derive(Debug, Default, Clone)]
struct MemState {
    /// Bumped at each crash so handles opened before it fail.
    generation: u64,
    next_inode: u64,
    inodes: BTreeMap<u64, Inode>,
    names: BTreeMap<PathBuf, u64>,
    durable_names: BTreeMap<PathBuf, u64>,
    /// Unsynced name changes, per directory, oldest first.
    pending_names: BTreeMap<PathBuf, Vec<NameOp>>,
    dirs: BTreeSet<PathBuf>,
    /// While set, every sync fails and syncs nothing (an EIO from fsync).
    fail_syncs: bool,
}

#[derive(Debug, Default, Clone)]
struct Inode {
    data: Vec<u8>,
    durable: Vec<u8>,
    pending: Vec<DataOp>,
}

#[derive(Debug, Clone)]
enum DataOp {
    Write { offset: u64, bytes: Vec<u8> },
    SetLen(u64),
}

#[derive(Debug, Clone)]
enum NameOp {
    Link { path: PathBuf, inode: u64 },
    Unlink { path: PathBuf },
    Rename { from: PathBuf, to: PathBuf },
}

impl MemDisk {
    /// An empty disk.
    pub fn new() -> MemDisk {
        MemDisk::default()
    }

    /// Power failure: unsynced data and names are kept, lost or torn as the
    /// module docs describe, deterministically for a given `seed`. Open
    /// handles become stale.
    pub fn crash(&self, seed: u64) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut state = self.lock();
        let dirs: Vec<PathBuf> = state.pending_names.keys().cloned().collect();
        for dir in dirs {
            let ops = state.pending_names.remove(&dir).unwrap_or_default();
            let kept = rng.gen_range(0..=ops.len());
            for op in &ops[..kept] {
                apply_name_op(&mut state.durable_names, op);
            }
        }
        state.names = state.durable_names.clone();
        for inode in state.inodes.values_mut() {
            inode.crash(&mut rng);
        }
        let live: BTreeSet<u64> = state.names.values().copied().collect();
        state.inodes.retain(|id, _| live.contains(id));
        state.generation += 1;
        state.fail_syncs = false;
    }

    /// The worst power failure: nothing unsynced reaches the platter, no name change and no
    /// byte. Open handles become stale.
    pub fn crash_losing_unsynced(&self) {
        let mut state = self.lock();
        state.pending_names.clear();
        state.names = state.durable_names.clone();
        for inode in state.inodes.values_mut() {
            inode.pending.clear();
            inode.data = inode.durable.clone();
        }
        let live: BTreeSet<u64> = state.names.values().copied().collect();
        state.inodes.retain(|id, _| live.contains(id));
        state.generation += 1;
        state.fail_syncs = false;
    }

    /// XORs `mask` into the byte at `offset` of `path`, durably: models a
    /// disk returning corrupted data.
    pub fn corrupt(&self, path: &Path, offset: u64, mask: u8) -> io::Result<()> {
        let mut state = self.lock();
        let id = *state.names.get(path).ok_or_else(|| not_found(path))?;
        let inode = state.inodes.get_mut(&id).expect("named inode exists");
        let at = usize::try_from(offset).map_err(io::Error::other)?;
        if at >= inode.data.len() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "offset past end"));
        }
        inode.data[at] ^= mask;
        if at < inode.durable.len() {
            inode.durable[at] ^= mask;
        }
        Ok(())
    }

    /// An independent deep copy of this disk, unsynced work included: lets
    /// a test try several crash seeds on the same state.
    pub fn fork(&self) -> MemDisk {
        let copy = self.lock().clone();
        MemDisk { state: Arc::new(Mutex::new(copy)) }
    }

    /// While `fail` is set, every file and directory sync returns an error
    /// and makes nothing durable: leaves written-but-unsynced data for a
    /// following [`MemDisk::crash`] to tear. A crash clears it.
    pub fn fail_syncs(&self, fail: bool) {
        self.lock().fail_syncs = fail;
    }

    /// The current length of `path`, if it exists.
    pub fn file_len(&self, path: &Path) -> Option<u64> {
        let state = self.lock();
        let id = state.names.get(path)?;
        Some(state.inodes[id].data.len() as u64)
    }

    fn lock(&self) -> MutexGuard<'_, MemState> {
        // A panic while holding the lock is a bug in this file; carry on
        // with the state it left rather than poisoning every later test.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Inode {
    fn crash(&mut self, rng: &mut ChaCha8Rng) {
        let ops = std::mem::take(&mut self.pending);
        let kept = rng.gen_range(0..=ops.len());
        for op in &ops[..kept] {
            apply_data_op(&mut self.durable, op);
        }
        // The first lost write may be torn: a prefix of it lands.
        if let Some(DataOp::Write { offset, bytes }) = ops.get(kept) {
            if rng.gen_bool(0.5) && !bytes.is_empty() {
                let len = rng.gen_range(1..=bytes.len());
                let torn = DataOp::Write { offset: *offset, bytes: bytes[..len].to_vec() };
                apply_data_op(&mut self.durable, &torn);
            }
        }
        self.data = self.durable.clone();
    }
}

fn apply_data_op(data: &mut Vec<u8>, op: &DataOp) {
    match op {
        DataOp::Write { offset, bytes } => {
            let start = *offset as usize;
            let end = start + bytes.len();
            if data.len() < end {
                data.resize(end, 0);
            }
            data[start..end].copy_from_slice(bytes);
        }
        DataOp::SetLen(len) => data.resize(*len as usize, 0),
    }
}

fn apply_name_op(names: &mut BTreeMap<PathBuf, u64>, op: &NameOp) {
    match op {
        NameOp::Link { path, inode } => {
            names.insert(path.clone(), *inode);
        }
        NameOp::Unlink { path } => {
            names.remove(path);
        }
        NameOp::Rename { from, to } => {
            if let Some(inode) = names.remove(from) {
                names.insert(to.clone(), inode);
            }
        }
    }
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("{}: no such file", path.display()))
}

impl MemState {
    fn change_names(&mut self, op: NameOp) {
        apply_name_op(&mut self.names, &op);
        let dir = match &op {
            NameOp::Link { path, .. } | NameOp::Unlink { path } => parent_dir(path),
            NameOp::Rename { to, .. } => parent_dir(to),
        };
        self.pending_names.entry(dir).or_default().push(op);
    }

    fn check_dir(&self, path: &Path) -> io::Result<()> {
        let dir = parent_dir(path);
        if self.dirs.contains(&dir) {
            Ok(())
        } else {
            Err(not_found(&dir))
        }
    }

    fn handle(&self, state: &Arc<Mutex<MemState>>, inode: u64) -> MemFile {
        MemFile { state: Arc::clone(state), inode, generation: self.generation }
    }
}

impl Disk for MemDisk {
    type File = MemFile;

    fn create(&self, path: &Path) -> io::Result<MemFile> {
        let mut state = self.lock();
        state.check_dir(path)?;
        let inode = state.next_inode;
        state.next_inode += 1;
        state.inodes.insert(inode, Inode::default());
        state.change_names(NameOp::Link { path: path.to_path_buf(), inode });
        Ok(state.handle(&self.state, inode))
    }

    fn open_write(&self, path: &Path) -> io::Result<MemFile> {
        let state = self.lock();
        let inode = *state.names.get(path).ok_or_else(|| not_found(path))?;
        Ok(state.handle(&self.state, inode))
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let state = self.lock();
        let inode = state.names.get(path).ok_or_else(|| not_found(path))?;
        Ok(state.inodes[inode].data.clone())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut state = self.lock();
        if !state.names.contains_key(from) {
            return Err(not_found(from));
        }
        state.check_dir(to)?;
        state.change_names(NameOp::Rename { from: from.to_path_buf(), to: to.to_path_buf() });
        Ok(())
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        let mut state = self.lock();
        if !state.names.contains_key(path) {
            return Err(not_found(path));
        }
        state.change_names(NameOp::Unlink { path: path.to_path_buf() });
        Ok(())
    }

    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>> {
        let state = self.lock();
        if !state.dirs.contains(dir) {
            return Err(not_found(dir));
        }
        let mut names: Vec<String> = state
            .names
            .keys()
            .filter(|path| parent_dir(path) == dir)
            .filter_map(|path| path.file_name()?.to_str().map(str::to_owned))
            .collect();
        names.sort();
        Ok(names)
    }

    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        let mut state = self.lock();
        for ancestor in dir.ancestors() {
            if !ancestor.as_os_str().is_empty() {
                state.dirs.insert(ancestor.to_path_buf());
            }
        }
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut state = self.lock();
        if !state.dirs.contains(dir) {
            return Err(not_found(dir));
        }
        if state.fail_syncs {
            return Err(injected_sync_failure());
        }
        let ops = state.pending_names.remove(dir).unwrap_or_default();
        for op in &ops {
            apply_name_op(&mut state.durable_names, op);
        }
        Ok(())
    }
}

fn injected_sync_failure() -> io::Error {
    io::Error::other("injected fsync failure")
}

impl MemFile {
    fn with_inode<R>(&self, f: impl FnOnce(&mut Inode) -> R) -> io::Result<R> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.generation != self.generation {
            return Err(io::Error::other("stale file handle: the disk crashed"));
        }
        let inode = state.inodes.get_mut(&self.inode).ok_or_else(|| io::Error::other("file was removed"))?;
        Ok(f(inode))
    }

    fn push(&mut self, op: DataOp) -> io::Result<()> {
        self.with_inode(|inode| {
            apply_data_op(&mut inode.data, &op);
            inode.pending.push(op);
        })
    }
}

impl DiskFile for MemFile {
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.push(DataOp::Write { offset, bytes: data.to_vec() })
    }

    fn set_len(&mut self, len: u64) -> io::Result<()> {
        self.push(DataOp::SetLen(len))
    }

    fn size(&self) -> io::Result<u64> {
        self.with_inode(|inode| inode.data.len() as u64)
    }

    fn sync_data(&mut self) -> io::Result<()> {
        if self.state.lock().unwrap_or_else(|e| e.into_inner()).fail_syncs {
            return Err(injected_sync_failure());
        }
        self.with_inode(|inode| {
            for op in std::mem::take(&mut inode.pending) {
                apply_data_op(&mut inode.durable, &op);
            }
        })
    }

    fn sync_all(&mut self) -> io::Result<()> {
        self.sync_data()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> PathBuf {
        PathBuf::from("/d")
    }

    #[test]
    fn synced_data_and_names_survive_a_crash() {
        let disk = MemDisk::new();
        disk.create_dir_all(&dir()).unwrap();
        let path = dir().join("f");
        let mut file = disk.create(&path).unwrap();
        file.write_at(0, b"hello").unwrap();
        file.sync_data().unwrap();
        disk.sync_dir(&dir()).unwrap();
        file.write_at(5, b" world").unwrap();
        for seed in 0..20 {
            // Every seed must keep the synced prefix.
            let copy = disk.fork();
            copy.crash(seed);
            let data = copy.read(&path).unwrap();
            assert_eq!(&data[..5], b"hello", "seed {seed}");
            assert!(data.len() <= 11, "seed {seed}");
        }
    }

    #[test]
    fn an_unsynced_name_can_vanish_and_a_stale_handle_fails() {
        let disk = MemDisk::new();
        disk.create_dir_all(&dir()).unwrap();
        let path = dir().join("f");
        let mut file = disk.create(&path).unwrap();
        file.write_at(0, b"x").unwrap();
        file.sync_data().unwrap();
        // Seed 0 happens to keep no name op; look for one that loses it.
        let lost = (0..50).any(|seed| {
            let copy = disk.fork();
            copy.crash(seed);
            copy.read(&path).is_err()
        });
        assert!(lost, "some seed must lose the unsynced create");
        disk.crash(1);
        assert!(file.write_at(0, b"y").is_err());
    }

    #[test]
    fn corrupt_flips_durable_bits() {
        let disk = MemDisk::new();
        disk.create_dir_all(&dir()).unwrap();
        let path = dir().join("f");
        let mut file = disk.create(&path).unwrap();
        file.write_at(0, &[0b1010]).unwrap();
        file.sync_data().unwrap();
        disk.sync_dir(&dir()).unwrap();
        disk.corrupt(&path, 0, 0b1).unwrap();
        disk.crash(7);
        assert_eq!(disk.read(&path).unwrap(), vec![0b1011]);
    }
}
