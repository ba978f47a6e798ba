//! Identifier newtypes. Ids are never bare integers that could be swapped by mistake.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Milliseconds of driver time (virtual in the simulator, wall-clock in `net-real`).
///
/// The core never reads a clock: every `handle_*` call carries `now`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Millis(pub u64);

impl Millis {
    /// `self + ms`, saturating.
    pub fn plus(self, ms: u64) -> Millis {
        Millis(self.0.saturating_add(ms))
    }
}

/// A ZooKeeper transaction id: `epoch << 32 | counter`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Zxid(pub i64);

impl Zxid {
    /// The zxid before any transaction.
    pub const ZERO: Zxid = Zxid(0);

    /// Builds a zxid from an epoch and a counter.
    pub fn new(epoch: Epoch, counter: u32) -> Zxid {
        Zxid(((epoch.0 as i64) << 32) | counter as i64)
    }

    /// The epoch half (high 32 bits).
    pub fn epoch(self) -> Epoch {
        Epoch((self.0 as u64 >> 32) as u32)
    }

    /// The counter half (low 32 bits).
    pub fn counter(self) -> u32 {
        self.0 as u32
    }
}

impl fmt::Display for Zxid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:x}", self.0)
    }
}

/// A ZAB epoch (the high half of a zxid).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Epoch(pub u32);

/// A server's id: `myid`, `server.N`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ServerId(pub u64);

/// A client session id, as ZooKeeper's signed 64-bit `sessionId`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SessionId(pub i64);

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:x}", self.0)
    }
}

/// A client connection, named by the driver. Unique for the life of a `Node`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ConnectionId(pub u64);

/// A token naming one `Output::Persist`; the driver hands it back to `handle_persisted`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PersistToken(pub u64);

/// A client-assigned request id (`RequestHeader.xid`).
pub type Xid = i32;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zxid_splits_into_epoch_and_counter() {
        let zxid = Zxid::new(Epoch(7), 0xffff_fffe);
        assert_eq!(zxid.epoch(), Epoch(7));
        assert_eq!(zxid.counter(), 0xffff_fffe);
        assert_eq!(zxid.0, 0x7_ffff_fffe);
        assert_eq!(Zxid::new(Epoch(1), 0).to_string(), "0x100000000");
    }
}
