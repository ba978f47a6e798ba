//! Client-port framing: 4-byte big-endian length frames, and the four-letter words a
//! connection may send instead of its first frame.

use tokio::io::{AsyncRead, AsyncReadExt};
use zab_core::proto::{frame_length, DecodeError};

/// The four-letter words zab answers (ZooKeeper 3.8's, less `gtmk`, `stmk` and `hash`).
pub const FOUR_LETTER_WORDS: [&str; 15] = [
    "ruok", "srvr", "stat", "conf", "cons", "mntr", "envi", "wchs", "wchc", "wchp", "dump", "dirs", "isro", "crst",
    "srst",
];

/// ZooKeeper 3.8 words zab does not implement: refused like any word outside the whitelist
/// (ZooKeeper's answer), closed without output when whitelisted.
pub const FOUR_LETTER_WORDS_UNSUPPORTED: [&str; 3] = ["gtmk", "stmk", "hash"];

/// What the first four bytes of a connection are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FirstPrefix {
    /// A four-letter word: answer it and close.
    FourLetterWord(&'static str),
    /// The length of the handshake frame.
    Frame(usize),
    /// A length ZooKeeper refuses (negative or over `jute.maxbuffer`): close without reply.
    Refused(DecodeError),
}

/// Classifies a connection's first four bytes.
pub fn classify_first_prefix(prefix: [u8; 4], max_buffer: usize) -> FirstPrefix {
    let known = FOUR_LETTER_WORDS.iter().chain(FOUR_LETTER_WORDS_UNSUPPORTED.iter());
    if let Some(word) = known.into_iter().find(|w| w.as_bytes() == prefix) {
        return FirstPrefix::FourLetterWord(word);
    }
    match frame_length(prefix, max_buffer) {
        Ok(length) => FirstPrefix::Frame(length),
        Err(error) => FirstPrefix::Refused(error),
    }
}

/// Why a connection stopped yielding frames.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The socket failed.
    #[error("read failed: {0}")]
    Io(#[from] std::io::Error),
    /// The peer closed in the middle of a frame.
    #[error("connection closed in the middle of a frame")]
    Truncated,
    /// The length prefix is refused (ZooKeeper closes without a reply).
    #[error("{0}")]
    Length(DecodeError),
}

/// Reads a 4-byte prefix. `Ok(None)` on a clean end of stream before any byte.
pub async fn read_prefix<R: AsyncRead + Unpin>(reader: &mut R) -> Result<Option<[u8; 4]>, FrameError> {
    let mut prefix = [0u8; 4];
    let mut filled = 0;
    while filled < 4 {
        let read = reader.read(&mut prefix[filled..]).await?;
        if read == 0 {
            return if filled == 0 { Ok(None) } else { Err(FrameError::Truncated) };
        }
        filled += read;
    }
    Ok(Some(prefix))
}

/// Reads a payload of `length` bytes.
pub async fn read_payload<R: AsyncRead + Unpin>(reader: &mut R, length: usize) -> Result<Vec<u8>, FrameError> {
    let mut payload = vec![0u8; length];
    match reader.read_exact(&mut payload).await {
        Ok(_) => Ok(payload),
        Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => Err(FrameError::Truncated),
        Err(error) => Err(FrameError::Io(error)),
    }
}

/// Reads one frame's payload. `Ok(None)` on a clean end of stream between frames.
pub async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    max_buffer: usize,
) -> Result<Option<Vec<u8>>, FrameError> {
    let Some(prefix) = read_prefix(reader).await? else {
        return Ok(None);
    };
    let length = frame_length(prefix, max_buffer).map_err(FrameError::Length)?;
    read_payload(reader, length).await.map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().build().expect("runtime").block_on(future)
    }

    #[test]
    fn four_letter_words_are_recognised_only_as_whole_words() {
        assert_eq!(classify_first_prefix(*b"ruok", 0xfffff), FirstPrefix::FourLetterWord("ruok"));
        assert_eq!(classify_first_prefix(*b"gtmk", 0xfffff), FirstPrefix::FourLetterWord("gtmk"));
        // "RUOK" is not a word: as a length it is far over jute.maxbuffer.
        let refused = FirstPrefix::Refused(DecodeError::FrameTooLarge { length: 0x5255_4f4b, max: 0xfffff });
        assert_eq!(classify_first_prefix(*b"RUOK", 0xfffff), refused);
        assert_eq!(classify_first_prefix([0, 0, 0, 44], 0xfffff), FirstPrefix::Frame(44));
        let negative = FirstPrefix::Refused(DecodeError::NegativeFrameLength(-1));
        assert_eq!(classify_first_prefix([0xff; 4], 0xfffff), negative);
    }

    #[test]
    fn frames_are_read_whole_and_a_clean_end_is_not_an_error() {
        let mut input: &[u8] = &[0, 0, 0, 3, 7, 8, 9, 0, 0, 0, 0];
        assert_eq!(run(read_frame(&mut input, 16)).expect("frame"), Some(vec![7, 8, 9]));
        assert_eq!(run(read_frame(&mut input, 16)).expect("empty frame"), Some(vec![]));
        assert_eq!(run(read_frame(&mut input, 16)).expect("end"), None);
    }

    #[test]
    fn cut_and_oversized_frames_are_errors() {
        let mut cut_prefix: &[u8] = &[0, 0];
        assert!(matches!(run(read_frame(&mut cut_prefix, 16)), Err(FrameError::Truncated)));
        let mut cut_payload: &[u8] = &[0, 0, 0, 5, 1, 2];
        assert!(matches!(run(read_frame(&mut cut_payload, 16)), Err(FrameError::Truncated)));
        let mut oversized: &[u8] = &[0, 0, 0, 17];
        let error = run(read_frame(&mut oversized, 16)).expect_err("over the limit");
        assert_eq!(error.to_string(), "frame of 17 bytes exceeds jute.maxbuffer 16");
    }
}
