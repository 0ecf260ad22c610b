//! MP4/M4A as iOS Safari's MediaRecorder writes it (often fragmented): boxes that tile the file
//! exactly from an `ftyp` to the last byte, a `moov` with a sound track (`hdlr` = `soun`), and
//! media (`mdat`). The length is the movie's or the track's declared duration, else the fragment
//! duration (`mehd`), else the sum of the sound track's sample durations over its fragments.

use super::{AudioError, be_uint, ticks_to_ms};

/// One box: its type and the byte range of its contents.
#[derive(Clone, Copy)]
struct Mp4Box {
    kind: [u8; 4],
    data: usize,
    end: usize,
}

/// The boxes that exactly tile `[from, to)`; a size of 0 runs to `to`.
fn boxes(b: &[u8], from: usize, to: usize) -> Result<Vec<Mp4Box>, AudioError> {
    let mut out = Vec::new();
    let mut at = from;
    while at < to {
        let h = b.get(at..at + 8).filter(|_| at + 8 <= to).ok_or(AudioError::Malformed)?;
        let kind: [u8; 4] = [h[4], h[5], h[6], h[7]];
        if !kind.iter().all(|c| (0x20..=0x7E).contains(c)) {
            return Err(AudioError::Malformed);
        }
        let (size, header) = match be_uint(&h[..4])? {
            0 => (to - at, 8),
            1 => {
                let large = b.get(at + 8..at + 16).filter(|_| at + 16 <= to).ok_or(AudioError::Malformed)?;
                (usize::try_from(be_uint(large)?).map_err(|_| AudioError::Malformed)?, 16)
            }
            n => (usize::try_from(n).map_err(|_| AudioError::Malformed)?, 8),
        };
        let end = at.checked_add(size).filter(|e| size >= header && *e <= to).ok_or(AudioError::Malformed)?;
        out.push(Mp4Box { kind, data: at + header, end });
        at = end;
    }
    Ok(out)
}

fn find(list: &[Mp4Box], kind: [u8; 4]) -> Option<Mp4Box> {
    list.iter().copied().find(|x| x.kind == kind)
}

/// `len` bytes at `off` inside a box's contents.
fn field(b: &[u8], x: Mp4Box, off: usize, len: usize) -> Result<u64, AudioError> {
    let at = x.data + off;
    be_uint(b.get(at..at + len).filter(|_| at + len <= x.end).ok_or(AudioError::Malformed)?)
}

/// Timescale and duration of an `mvhd` or `mdhd` (version 0 or 1).
fn timing(b: &[u8], x: Mp4Box) -> Result<(u64, u64), AudioError> {
    if field(b, x, 0, 1)? == 1 {
        Ok((field(b, x, 20, 4)?, field(b, x, 24, 8)?))
    } else {
        Ok((field(b, x, 12, 4)?, field(b, x, 16, 4)?))
    }
}

/// A sound track: its id, timescale and declared duration.
struct Sound {
    id: u64,
    timescale: u64,
    duration: u64,
}

fn sound_track(b: &[u8], trak: Mp4Box) -> Result<Option<Sound>, AudioError> {
    let parts = boxes(b, trak.data, trak.end)?;
    let (Some(tkhd), Some(mdia)) = (find(&parts, *b"tkhd"), find(&parts, *b"mdia")) else { return Ok(None) };
    let inner = boxes(b, mdia.data, mdia.end)?;
    let (Some(hdlr), Some(mdhd)) = (find(&inner, *b"hdlr"), find(&inner, *b"mdhd")) else { return Ok(None) };
    if field(b, hdlr, 8, 4)? != u64::from(u32::from_be_bytes(*b"soun")) {
        return Ok(None);
    }
    let id = if field(b, tkhd, 0, 1)? == 1 { field(b, tkhd, 20, 4)? } else { field(b, tkhd, 12, 4)? };
    let (timescale, duration) = timing(b, mdhd)?;
    Ok(Some(Sound { id, timescale, duration }))
}

/// The summed sample durations of `track` in one `traf`.
fn fragment_ticks(b: &[u8], traf: Mp4Box, track: u64) -> Result<u64, AudioError> {
    let parts = boxes(b, traf.data, traf.end)?;
    let tfhd = find(&parts, *b"tfhd").ok_or(AudioError::Malformed)?;
    if field(b, tfhd, 4, 4)? != track {
        return Ok(0);
    }
    let flags = field(b, tfhd, 1, 3)?;
    let mut off = 8;
    for (bit, len) in [(0x01, 8), (0x02, 4)] {
        if flags & bit != 0 {
            off += len;
        }
    }
    let default = if flags & 0x08 != 0 { field(b, tfhd, off, 4)? } else { 0 };
    let mut ticks = 0_u64;
    for trun in parts.iter().filter(|x| &x.kind == b"trun") {
        let flags = field(b, *trun, 1, 3)?;
        let count = field(b, *trun, 4, 4)?;
        let mut at = 8 + if flags & 0x01 != 0 { 4 } else { 0 } + if flags & 0x04 != 0 { 4 } else { 0 };
        let per_sample = [0x100, 0x200, 0x400, 0x800].iter().filter(|bit| flags & **bit != 0).count() * 4;
        // Bounded work: the samples must fit in the box before any is read.
        let count = usize::try_from(count).map_err(|_| AudioError::Malformed)?;
        if count.checked_mul(per_sample).and_then(|n| n.checked_add(at)).is_none_or(|n| n > trun.end - trun.data) {
            return Err(AudioError::Malformed);
        }
        if flags & 0x100 == 0 {
            ticks = ticks.saturating_add(default.saturating_mul(u64::try_from(count).unwrap_or(u64::MAX)));
            continue;
        }
        for _ in 0..count {
            ticks = ticks.saturating_add(field(b, *trun, at, 4)?);
            at += per_sample;
        }
    }
    Ok(ticks)
}

pub(super) fn duration_ms(b: &[u8]) -> Result<u64, AudioError> {
    let top = boxes(b, 0, b.len())?;
    if top.first().is_none_or(|x| &x.kind != b"ftyp") {
        return Err(AudioError::Malformed);
    }
    let moov = find(&top, *b"moov").ok_or(AudioError::NoAudioTrack)?;
    let movie = boxes(b, moov.data, moov.end)?;
    let mut sound = None;
    for trak in movie.iter().filter(|x| &x.kind == b"trak") {
        if let Some(s) = sound_track(b, *trak)? {
            sound = Some(s);
            break;
        }
    }
    let sound = sound.ok_or(AudioError::NoAudioTrack)?;
    if !top.iter().any(|x| &x.kind == b"mdat" && x.end > x.data) {
        return Err(AudioError::NoDuration);
    }
    let (movie_scale, movie_duration) = find(&movie, *b"mvhd").map_or(Ok((0, 0)), |x| timing(b, x))?;
    if movie_duration > 0 {
        return ticks_to_ms(movie_duration, movie_scale);
    }
    if sound.duration > 0 {
        return ticks_to_ms(sound.duration, sound.timescale);
    }
    if let Some(mvex) = find(&movie, *b"mvex")
        && let Some(mehd) = find(&boxes(b, mvex.data, mvex.end)?, *b"mehd")
    {
        let d = if field(b, mehd, 0, 1)? == 1 { field(b, mehd, 4, 8)? } else { field(b, mehd, 4, 4)? };
        if d > 0 {
            return ticks_to_ms(d, movie_scale);
        }
    }
    let mut ticks = 0_u64;
    for moof in top.iter().filter(|x| &x.kind == b"moof") {
        for traf in boxes(b, moof.data, moof.end)?.iter().filter(|x| &x.kind == b"traf") {
            ticks = ticks.saturating_add(fragment_ticks(b, *traf, sound.id)?);
        }
    }
    if ticks == 0 {
        return Err(AudioError::NoDuration);
    }
    ticks_to_ms(ticks, sound.timescale)
}
