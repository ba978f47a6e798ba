//! The trace: one readable line per event and a running hash of all lines.
//!
//! The hash is FNV-1a over the bytes of every line (and a newline), so two runs of one seed
//! agree exactly when they printed the same trace (STYLE.md rule 7).

/// FNV-1a 64-bit offset basis.
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
/// FNV-1a 64-bit prime.
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// Keeps the running hash; prints or keeps lines on request.
#[derive(Debug)]
pub struct Trace {
    hash: u64,
    lines: u64,
    print: bool,
    /// The last lines, kept for failure reports.
    tail: std::collections::VecDeque<String>,
    tail_max: usize,
}

impl Trace {
    /// A trace that prints each line to stdout when `print` is set and keeps the last
    /// `tail_max` lines for failure reports.
    pub fn new(print: bool, tail_max: usize) -> Trace {
        Trace { hash: FNV_OFFSET, lines: 0, print, tail: Default::default(), tail_max }
    }

    /// Records one line at virtual time `now_ms`.
    pub fn line(&mut self, now_ms: u64, text: &str) {
        let stamp = format!("{:>5}.{:03} ", now_ms / 1000, now_ms % 1000);
        for byte in stamp.bytes().chain(text.bytes()).chain(std::iter::once(b'\n')) {
            self.hash ^= byte as u64;
            self.hash = self.hash.wrapping_mul(FNV_PRIME);
        }
        self.lines += 1;
        if self.print {
            print_line(&stamp, text);
        }
        if self.tail_max > 0 {
            if self.tail.len() == self.tail_max {
                self.tail.pop_front();
            }
            self.tail.push_back(format!("{stamp}{text}"));
        }
    }

    /// The running hash.
    pub fn hash(&self) -> u64 {
        self.hash
    }

    /// Lines recorded so far.
    pub fn lines(&self) -> u64 {
        self.lines
    }

    /// The last lines kept.
    pub fn tail(&self) -> impl Iterator<Item = &String> {
        self.tail.iter()
    }
}

/// Prints one trace line through a locked stdout. A trace is printed only for a person
/// (`zab-sim --seed N --trace | head`): when that reader has gone, nothing more of the run can
/// be shown, so the program ends quietly instead of panicking on every later line.
fn print_line(stamp: &str, text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match writeln!(stdout, "{stamp}{text}") {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(error) => panic!("writing the trace to stdout: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_depends_on_every_line_and_its_time() {
        let mut a = Trace::new(false, 2);
        let mut b = Trace::new(false, 2);
        let mut c = Trace::new(false, 2);
        a.line(1, "x");
        b.line(1, "x");
        c.line(2, "x");
        assert_eq!(a.hash(), b.hash());
        assert_ne!(a.hash(), c.hash());
        a.line(3, "y");
        a.line(4, "z");
        assert_eq!(a.tail().cloned().collect::<Vec<_>>(), vec!["    0.003 y", "    0.004 z"]);
        assert_eq!(a.lines(), 3);
    }
}
