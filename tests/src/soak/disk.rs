//! A slow disk for one server: its process goes into a block-I/O cgroup that caps the write
//! operations per second on the device under its data directory, so every fdatasync waits
//! (cgroup v1 `blkio.throttle.write_iops_device`, or v2 `io.max wiops`). Removed again, and
//! the process moved back to the root group, when healed or dropped.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// A throttled process; the throttle ends when dropped.
pub struct SlowDisk {
    group: PathBuf,
    root: PathBuf,
    device: String,
    version: CgroupVersion,
    pid: i32,
    removed: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum CgroupVersion {
    V1,
    V2,
}

impl SlowDisk {
    /// Caps `pid`'s writes to the device holding `dir` at `write_iops` per second.
    pub fn apply(pid: i32, dir: &Path, write_iops: u32, name: &str) -> Result<SlowDisk, String> {
        let device = block_device(dir)?;
        let (version, root) = if Path::new("/sys/fs/cgroup/blkio/cgroup.procs").exists() {
            (CgroupVersion::V1, PathBuf::from("/sys/fs/cgroup/blkio"))
        } else if std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers").is_ok_and(|c| c.contains("io")) {
            (CgroupVersion::V2, PathBuf::from("/sys/fs/cgroup"))
        } else {
            return Err("no block-I/O cgroup controller (neither v1 blkio nor v2 io)".to_string());
        };
        let group = root.join(name);
        std::fs::create_dir_all(&group).map_err(|e| format!("{}: {e}", group.display()))?;
        let slow = SlowDisk { group, root, device, version, pid, removed: false };
        if version == CgroupVersion::V2 {
            // The io controller must be enabled for the root's children (systemd usually has).
            let _ = std::fs::write(slow.root.join("cgroup.subtree_control"), "+io");
        }
        slow.write_limit(Some(write_iops))?;
        write(&slow.group.join("cgroup.procs"), &pid.to_string())?;
        Ok(slow)
    }

    /// Write operations the process issued to the device while in the group, as the cgroup
    /// counted them (proof the throttle had something to throttle).
    pub fn writes_done(&self) -> Option<u64> {
        let device = &self.device;
        match self.version {
            CgroupVersion::V1 => {
                let text = std::fs::read_to_string(self.group.join("blkio.throttle.io_serviced")).ok()?;
                let line = text.lines().find(|line| line.starts_with(&format!("{device} Write ")))?;
                line.rsplit(' ').next()?.parse().ok()
            }
            CgroupVersion::V2 => {
                let text = std::fs::read_to_string(self.group.join("io.stat")).ok()?;
                let line = text.lines().find(|line| line.starts_with(&format!("{device} ")))?;
                line.split(' ').find_map(|field| field.strip_prefix("wios="))?.parse().ok()
            }
        }
    }

    /// Ends the throttle.
    pub fn remove(&mut self) -> Result<(), String> {
        if std::mem::replace(&mut self.removed, true) {
            return Ok(());
        }
        let limit = self.write_limit(None);
        // The process may be gone (killed): then the group is already empty.
        let _ = write(&self.root.join("cgroup.procs"), &self.pid.to_string());
        let rmdir = std::fs::remove_dir(&self.group).map_err(|e| format!("rmdir {}: {e}", self.group.display()));
        limit.and(rmdir)
    }

    fn write_limit(&self, write_iops: Option<u32>) -> Result<(), String> {
        let device = &self.device;
        match self.version {
            CgroupVersion::V1 => {
                let value = format!("{device} {}", write_iops.unwrap_or(0));
                write(&self.group.join("blkio.throttle.write_iops_device"), &value)
            }
            CgroupVersion::V2 => {
                let limit = write_iops.map_or("max".to_string(), |iops| iops.to_string());
                write(&self.group.join("io.max"), &format!("{device} wiops={limit}"))
            }
        }
    }
}

impl Drop for SlowDisk {
    fn drop(&mut self) {
        if let Err(error) = self.remove() {
            eprintln!("soak: could not remove the slow-disk cgroup: {error}");
        }
    }
}

fn write(path: &Path, value: &str) -> Result<(), String> {
    std::fs::write(path, value).map_err(|e| format!("write {value:?} to {}: {e}", path.display()))
}

/// `MAJOR:MINOR` of the whole disk under `dir` (throttles apply to disks, not partitions).
fn block_device(dir: &Path) -> Result<String, String> {
    let dev = std::fs::metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?.dev();
    // Linux's dev_t encoding (glibc's gnu_dev_major/minor).
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    let sys = PathBuf::from(format!("/sys/dev/block/{major}:{minor}"));
    if !sys.exists() {
        return Err(format!("{} is not on a block device ({major}:{minor}: tmpfs or overlay?)", dir.display()));
    }
    if sys.join("partition").exists() {
        let disk =
            std::fs::read_to_string(sys.join("../dev")).map_err(|e| format!("parent of {major}:{minor}: {e}"))?;
        return Ok(disk.trim().to_string());
    }
    Ok(format!("{major}:{minor}"))
}
