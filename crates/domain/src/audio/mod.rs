//! Voice recordings checked by structure, not by their first bytes (A1; issue 11 item 18). A file
//! that starts like a WebM, Ogg or MP4 recording is parsed far enough to find an audio track and its
//! length; anything that does not parse as that container to its last byte is refused, so junk
//! behind a valid header is not stored as a voice message.
//!
//! Work is bounded: one linear pass over the bytes (at most the 5 MiB voice limit), no recursion
//! beyond the few container levels named here, no decoding of the audio itself.

mod mp4;
mod ogg;
mod webm;

/// The containers browsers record voice in: WebM/Opus (Chrome, Edge, Android), Ogg/Opus (Firefox)
/// and MP4/AAC (iOS Safari).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    Webm,
    Ogg,
    Mp4,
}

impl Container {
    pub const fn content_type(self) -> &'static str {
        match self {
            Self::Webm => "audio/webm",
            Self::Ogg => "audio/ogg",
            Self::Mp4 => "audio/mp4",
        }
    }

    /// Recognises the container by its first bytes (the check that decides whether a file is
    /// *meant* as a recording; [`probe`] then decides whether it is one).
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        let head = &bytes[..bytes.len().min(64)];
        let has = |needle: &[u8]| head.windows(needle.len()).any(|w| w == needle);
        if bytes.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) && has(b"webm") {
            Some(Self::Webm)
        } else if bytes.starts_with(b"OggS") && has(b"OpusHead") {
            Some(Self::Ogg)
        } else if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
            Some(Self::Mp4)
        } else {
            None
        }
    }
}

/// What a recording turned out to hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioInfo {
    pub container: Container,
    /// The length the container records: the last audio frame's time (WebM, Ogg) or the declared
    /// or summed track duration (MP4).
    pub duration_ms: u64,
}

/// Why a file is not a recording. Never carries the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AudioError {
    #[error("not a recording in a known container")]
    NotAudio,
    #[error("the container is malformed or has bytes that belong to no part of it")]
    Malformed,
    #[error("the file holds no audio track")]
    NoAudioTrack,
    #[error("the audio track has no timed frames")]
    NoDuration,
}

/// Parses `bytes` as the container its first bytes announce.
pub fn probe(bytes: &[u8]) -> Result<AudioInfo, AudioError> {
    let container = Container::sniff(bytes).ok_or(AudioError::NotAudio)?;
    let duration_ms = match container {
        Container::Webm => webm::duration_ms(bytes)?,
        Container::Ogg => ogg::duration_ms(bytes)?,
        Container::Mp4 => mp4::duration_ms(bytes)?,
    };
    Ok(AudioInfo { container, duration_ms })
}

/// Converts `ticks` of `1/per_sec` seconds to milliseconds without overflow.
fn ticks_to_ms(ticks: u64, per_sec: u64) -> Result<u64, AudioError> {
    if per_sec == 0 {
        return Err(AudioError::Malformed);
    }
    Ok(u64::try_from(u128::from(ticks) * 1000 / u128::from(per_sec)).unwrap_or(u64::MAX))
}

/// A big-endian unsigned integer of 1 to 8 bytes.
fn be_uint(b: &[u8]) -> Result<u64, AudioError> {
    if b.is_empty() || b.len() > 8 {
        return Err(AudioError::Malformed);
    }
    Ok(b.iter().fold(0_u64, |acc, &x| (acc << 8) | u64::from(x)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_bytes_alone_are_not_a_recording() {
        let webm = [&[0x1A, 0x45, 0xDF, 0xA3, 0x84][..], b"webm", &[0x55; 200]].concat();
        assert_eq!(Container::sniff(&webm), Some(Container::Webm));
        assert!(probe(&webm).is_err());
        let ogg = [&b"OggS\0\x02"[..], &[0; 22], b"OpusHead\x01\x01", &[0x55; 200]].concat();
        assert_eq!(Container::sniff(&ogg), Some(Container::Ogg));
        assert!(probe(&ogg).is_err());
        let m4a = [&b"\0\0\0\x14ftypM4A \0\0\0\0M4A "[..], &[0x55; 200]].concat();
        assert_eq!(Container::sniff(&m4a), Some(Container::Mp4));
        assert!(probe(&m4a).is_err());
        assert_eq!(probe(b"%PDF-1.7"), Err(AudioError::NotAudio));
    }

    #[test]
    fn ticks_convert_without_overflow() {
        assert_eq!(ticks_to_ms(96_000, 48_000), Ok(2000));
        assert_eq!(ticks_to_ms(u64::MAX, 1), Ok(u64::MAX));
        assert_eq!(ticks_to_ms(1, 0), Err(AudioError::Malformed));
    }
}
