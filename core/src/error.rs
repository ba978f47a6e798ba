//! ZooKeeper's error codes (`KeeperException.Code`), with ZooKeeper's numbers.

use serde::{Deserialize, Serialize};

macro_rules! error_codes {
    ($($(#[$doc:meta])* $name:ident = $value:expr,)*) => {
        /// A ZooKeeper error code as it travels in `ReplyHeader.err`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[repr(i32)]
        pub enum ErrorCode {
            $($(#[$doc])* $name = $value,)*
        }

        impl ErrorCode {
            /// The wire number.
            pub fn code(self) -> i32 {
                self as i32
            }

            /// The code for a wire number, if ZooKeeper defines one.
            pub fn from_code(code: i32) -> Option<ErrorCode> {
                match code {
                    $($value => Some(ErrorCode::$name),)*
                    _ => None,
                }
            }

            /// Every defined code, in declaration order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$name,)*];
        }
    };
}

error_codes! {
    /// Success.
    Ok = 0,
    /// A system or server-side error.
    SystemError = -1,
    /// A multi sub-operation after the one that failed.
    RuntimeInconsistency = -2,
    /// Data inconsistency.
    DataInconsistency = -3,
    /// Connection to the server was lost (client-side only).
    ConnectionLoss = -4,
    /// Error marshalling or unmarshalling a record.
    MarshallingError = -5,
    /// The operation is not implemented.
    Unimplemented = -6,
    /// Operation timeout (client-side only).
    OperationTimeout = -7,
    /// Invalid arguments.
    BadArguments = -8,
    /// Unknown session (internal).
    UnknownSession = -12,
    /// No quorum for a new config.
    NewConfigNoQuorum = -13,
    /// Another reconfiguration is in progress.
    ReconfigInProgress = -14,
    /// API errors start here; never sent.
    ApiError = -100,
    /// The node does not exist.
    NoNode = -101,
    /// Not authenticated.
    NoAuth = -102,
    /// Version conflict.
    BadVersion = -103,
    /// Ephemeral nodes may not have children.
    NoChildrenForEphemerals = -108,
    /// The node already exists.
    NodeExists = -110,
    /// The node has children.
    NotEmpty = -111,
    /// The session has expired.
    SessionExpired = -112,
    /// Invalid callback.
    InvalidCallback = -113,
    /// Invalid ACL.
    InvalidAcl = -114,
    /// Client authentication failed.
    AuthFailed = -115,
    /// The session moved to another server.
    SessionMoved = -118,
    /// A state-changing request was sent to a read-only server.
    NotReadOnly = -119,
    /// An ephemeral node was requested on a local session.
    EphemeralOnLocalSession = -120,
    /// No such watcher to remove.
    NoWatcher = -121,
    /// The request timed out.
    RequestTimeout = -122,
    /// Dynamic reconfiguration is disabled.
    ReconfigDisabled = -123,
    /// The session is closed because SASL authentication is required.
    SessionClosedRequireSaslAuth = -124,
    /// A hard quota was exceeded.
    QuotaExceeded = -125,
    /// The operation was throttled.
    ThrottledOp = -127,
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} ({})", self, self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_have_zookeepers_numbers() {
        for &code in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_code(code.code()), Some(code));
        }
        assert_eq!(ErrorCode::NoNode.code(), -101);
        assert_eq!(ErrorCode::NodeExists.code(), -110);
        assert_eq!(ErrorCode::NoWatcher.code(), -121);
        assert_eq!(ErrorCode::ThrottledOp.code(), -127);
        assert_eq!(ErrorCode::from_code(-126), None);
    }
}
