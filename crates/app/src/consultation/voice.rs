//! Voice messages in a consultation (A1, S1): a recording made in the browser (MediaRecorder) is
//! accepted by its content — WebM or Ogg with Opus (Chrome, Firefox, Android) or MP4/M4A (iOS
//! Safari) — with the length the recorder measured, and stored encrypted like any attachment.
//! Audio is recognised here and not in [`crate::verification::sniff_document`], so identity
//! documents still accept only JPEG, PNG and PDF.

use super::{
    attachment::{CreateAttachment, NewAttachment, store_and_post},
    message::MessageView,
};
use crate::{App, AppError, Principal, RequestCtx};

/// A1: voice messages are limited to 5 MiB (five minutes of Opus at 32 kbit/s is about 1.2 MiB;
/// iOS AAC at 64 kbit/s about 2.4 MiB).
pub const MAX_VOICE_BYTES: usize = 5 * 1024 * 1024;
/// Shorter than this is a slip of the finger, not a message.
pub const MIN_VOICE_MS: u32 = 300;
/// A1: at most five minutes per voice message.
pub const MAX_VOICE_MS: u32 = 5 * 60 * 1000;

/// The audio type of a browser recording, recognised by its first bytes; `None` for anything else.
/// Recognising is not accepting: [`upload`] parses the container ([`domain::audio::probe`]).
#[must_use]
pub fn sniff_audio(bytes: &[u8]) -> Option<&'static str> {
    domain::audio::Container::sniff(bytes).map(domain::audio::Container::content_type)
}

/// Some slack over five minutes for the container's own clock (the recorder stops a moment late).
const CONTAINER_SLACK_MS: u64 = 2_000;

/// Validates the recorder's `duration_ms` field: a whole number from 300 ms to 5 minutes.
pub fn parse_duration(raw: Option<&str>) -> Result<u32, AppError> {
    raw.and_then(|v| v.trim().parse::<u32>().ok()).filter(|ms| (MIN_VOICE_MS..=MAX_VOICE_MS).contains(ms)).ok_or_else(
        || AppError::invalid("voice_duration", "A voice message must be between 0.3 seconds and 5 minutes."),
    )
}

/// `m:ss`, rounded to the nearest second and never below `0:01`.
#[must_use]
pub fn duration_label(ms: u32) -> String {
    let secs = (ms.saturating_add(500) / 1000).max(1);
    format!("{}:{:02}", secs / 60, secs % 60)
}

fn file_name(content_type: &str) -> &'static str {
    match content_type {
        "audio/ogg" => "voice.ogg",
        "audio/mp4" => "voice.m4a",
        _ => "voice.webm",
    }
}

/// Stores a recording as a `voice` message whose attachment carries its length (A1). The sender's
/// file name is not kept: a recording is named by its type.
pub(super) async fn upload(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    consultation_id: &str,
    content_type: &'static str,
    input: CreateAttachment,
) -> Result<(MessageView, bool), AppError> {
    if input.bytes.len() > MAX_VOICE_BYTES {
        return Err(AppError::invalid("voice_too_large", "A voice message must be under 5 MB."));
    }
    let duration_ms = parse_duration(input.duration_ms.as_deref())?;
    // Issue 11 item 18: first bytes that look like a recording followed by anything else are not
    // a voice message; the container must hold an audio track with a length.
    let info = domain::audio::probe(&input.bytes)
        .map_err(|_| AppError::invalid("voice_invalid", "The recording could not be read; please record it again."))?;
    if info.duration_ms > u64::from(MAX_VOICE_MS) + CONTAINER_SLACK_MS {
        return Err(AppError::invalid("voice_duration", "A voice message must be between 0.3 seconds and 5 minutes."));
    }
    let new = NewAttachment {
        kind: "voice",
        name: file_name(content_type).to_owned(),
        content_type,
        bytes: input.bytes,
        thumb: None,
        duration_ms: Some(duration_ms),
    };
    store_and_post(app, who, ctx, consultation_id, &input.client_id, new).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recordings_are_recognised_by_content() {
        let webm = [&[0x1A, 0x45, 0xDF, 0xA3, 0x9F, 0x42, 0x82, 0x84][..], b"webm"].concat();
        assert_eq!(sniff_audio(&webm), Some("audio/webm"));
        let mkv = [&[0x1A, 0x45, 0xDF, 0xA3, 0x9F, 0x42, 0x82, 0x88][..], b"matroska"].concat();
        assert_eq!(sniff_audio(&mkv), None, "only WebM, the MediaRecorder container");
        let ogg = [&b"OggS\0\x02"[..], &[0; 22], b"OpusHead\x01\x01"].concat();
        assert_eq!(sniff_audio(&ogg), Some("audio/ogg"));
        assert_eq!(sniff_audio(&[&b"OggS\0\x02"[..], &[0; 22], b"\x80theora"].concat()), None);
        assert_eq!(sniff_audio(b"\0\0\0\x1cftypM4A \0\0\0\0"), Some("audio/mp4"));
        for other in [&b"\xFF\xD8\xFF\xE0"[..], b"%PDF-1.7", b"ID3\x04", b"", b"ftyp"] {
            assert_eq!(sniff_audio(other), None);
        }
    }

    #[test]
    fn durations_are_bounded() {
        assert_eq!(parse_duration(Some("300")).ok(), Some(300));
        assert_eq!(parse_duration(Some(" 300000 ")).ok(), Some(300_000));
        for bad in [None, Some(""), Some("299"), Some("300001"), Some("-5"), Some("2.5"), Some("abc")] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn durations_read_as_minutes_and_seconds() {
        assert_eq!(duration_label(300), "0:01");
        assert_eq!(duration_label(7_400), "0:07");
        assert_eq!(duration_label(59_600), "1:00");
        assert_eq!(duration_label(300_000), "5:00");
    }
}
