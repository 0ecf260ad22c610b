//! WebM (Matroska/EBML) as MediaRecorder writes it: an EBML header with DocType `webm`, then one
//! Segment (often of unknown size while recording) holding Info, Tracks and Clusters (again often of
//! unknown size) of SimpleBlocks. The length is Info's Duration when written, else the time of the
//! last audio block (Chrome writes no Duration).

use super::{AudioError, be_uint};

const EBML: u32 = 0x1A45_DFA3;
const DOC_TYPE: u32 = 0x4282;
const SEGMENT: u32 = 0x1853_8067;
const INFO: u32 = 0x1549_A966;
const TIMECODE_SCALE: u32 = 0x2A_D7B1;
const DURATION: u32 = 0x4489;
const TRACKS: u32 = 0x1654_AE6B;
const TRACK_ENTRY: u32 = 0xAE;
const TRACK_NUMBER: u32 = 0xD7;
const TRACK_TYPE: u32 = 0x83;
const AUDIO_TRACK: u64 = 2;
const CLUSTER: u32 = 0x1F43_B675;
const TIMECODE: u32 = 0xE7;
const SIMPLE_BLOCK: u32 = 0xA3;
const BLOCK_GROUP: u32 = 0xA0;
const BLOCK: u32 = 0xA1;
const BLOCK_DURATION: u32 = 0x9B;
/// Segment children other than Info, Tracks and Cluster (SeekHead, Cues, Tags, Chapters,
/// Attachments), skipped by size; one of them also ends a Cluster of unknown size.
const OTHER_TOP: [u32; 5] = [0x114D_9B74, 0x1C53_BB6B, 0x1254_C367, 0x1043_A770, 0x1941_A469];
/// Void and CRC-32, allowed anywhere.
const GLOBAL: [u32; 2] = [0xEC, 0xBF];
/// Cluster children other than Timecode and blocks (Position, PrevSize, SilentTracks,
/// EncryptedBlock), skipped by size.
const SKIPPED_IN_CLUSTER: [u32; 4] = [0xA7, 0xAB, 0x5854, 0xAF];
/// More distinct track numbers in blocks than this is not a voice recording.
const MAX_TRACKS: usize = 8;

/// One element header: id, data start, and data end (`None` for an unknown size).
struct Element {
    id: u32,
    data: usize,
    end: Option<usize>,
}

/// A variable-length integer as stored (marker bit included) and its length, from the leading zeros
/// of the first byte (at most `max` bytes).
fn vint(b: &[u8], at: usize, max: usize) -> Result<(u64, usize), AudioError> {
    let first = *b.get(at).ok_or(AudioError::Malformed)?;
    let len = first.leading_zeros() as usize + 1;
    if len > max {
        return Err(AudioError::Malformed);
    }
    Ok((be_uint(b.get(at..at + len).ok_or(AudioError::Malformed)?)?, len))
}

/// The value bits of a stored variable-length integer (the marker bit cleared).
fn payload(raw: u64, len: usize) -> u64 {
    raw & ((1_u64 << (7 * len)) - 1)
}

fn element(b: &[u8], at: usize, limit: usize) -> Result<Element, AudioError> {
    let (id, id_len) = vint(b, at, 4)?;
    let (size, size_len) = vint(b, at + id_len, 8)?;
    let data = at + id_len + size_len;
    let size = payload(size, size_len);
    // All value bits set: the size is unknown (a live recording's Segment and Clusters).
    let end = if size == (1_u64 << (7 * size_len)) - 1 {
        None
    } else {
        let len = usize::try_from(size).map_err(|_| AudioError::Malformed)?;
        Some(data.checked_add(len).filter(|e| *e <= limit).ok_or(AudioError::Malformed)?)
    };
    Ok(Element { id: u32::try_from(id).map_err(|_| AudioError::Malformed)?, data, end })
}

/// Known-size children of `[from, to)`, in order.
fn children(b: &[u8], from: usize, to: usize) -> Result<Vec<(u32, usize, usize)>, AudioError> {
    let mut out = Vec::new();
    let mut at = from;
    while at < to {
        let e = element(b, at, to)?;
        let end = e.end.ok_or(AudioError::Malformed)?;
        out.push((e.id, e.data, end));
        at = end;
    }
    Ok(out)
}

#[derive(Default)]
struct Walk {
    scale_ns: u64,
    info_duration: Option<f64>,
    audio_tracks: Vec<u64>,
    /// The latest block time (in timecode ticks) seen per track number.
    last_block: Vec<(u64, i128)>,
}

impl Walk {
    fn block(&mut self, b: &[u8], data: usize, end: usize, cluster_tc: i128, extra: i128) -> Result<(), AudioError> {
        let (track, len) = vint(b, data, 8)?;
        let track = payload(track, len);
        // Track number, a 16-bit relative time and a flags byte, then the frame.
        if data + len + 3 > end {
            return Err(AudioError::Malformed);
        }
        let t = cluster_tc + i128::from(i16::from_be_bytes([b[data + len], b[data + len + 1]])) + extra;
        match self.last_block.iter().position(|(n, _)| *n == track) {
            Some(i) => self.last_block[i].1 = self.last_block[i].1.max(t),
            None if self.last_block.len() < MAX_TRACKS => self.last_block.push((track, t)),
            None => return Err(AudioError::Malformed),
        }
        Ok(())
    }

    /// A cluster's children from `data`; an unknown-size cluster ends where a Segment child starts.
    fn cluster(&mut self, b: &[u8], data: usize, end: Option<usize>, seg_end: usize) -> Result<usize, AudioError> {
        let mut tc = 0_i128;
        let mut at = data;
        while at < end.unwrap_or(seg_end) {
            let e = element(b, at, end.unwrap_or(seg_end))?;
            if end.is_none() && (e.id == CLUSTER || e.id == INFO || e.id == TRACKS || OTHER_TOP.contains(&e.id)) {
                return Ok(at);
            }
            let child_end = e.end.ok_or(AudioError::Malformed)?;
            match e.id {
                TIMECODE => tc = i128::from(be_uint(&b[e.data..child_end])?),
                SIMPLE_BLOCK => self.block(b, e.data, child_end, tc, 0)?,
                BLOCK_GROUP => {
                    let parts = children(b, e.data, child_end)?;
                    let extra = parts
                        .iter()
                        .find(|(id, ..)| *id == BLOCK_DURATION)
                        .map_or(Ok(0), |(_, d, x)| be_uint(&b[*d..*x]).map(i128::from))?;
                    for (_, d, x) in parts.iter().filter(|(id, ..)| *id == BLOCK) {
                        self.block(b, *d, *x, tc, extra)?;
                    }
                }
                id if SKIPPED_IN_CLUSTER.contains(&id) || GLOBAL.contains(&id) => {}
                _ => return Err(AudioError::Malformed),
            }
            at = child_end;
        }
        Ok(at)
    }

    fn info(&mut self, b: &[u8], data: usize, end: usize) -> Result<(), AudioError> {
        for (id, d, x) in children(b, data, end)? {
            match id {
                TIMECODE_SCALE => self.scale_ns = be_uint(&b[d..x])?,
                DURATION => {
                    self.info_duration = Some(match x - d {
                        4 => f64::from(f32::from_be_bytes(b[d..x].try_into().map_err(|_| AudioError::Malformed)?)),
                        8 => f64::from_be_bytes(b[d..x].try_into().map_err(|_| AudioError::Malformed)?),
                        _ => return Err(AudioError::Malformed),
                    });
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn tracks(&mut self, b: &[u8], data: usize, end: usize) -> Result<(), AudioError> {
        for (_, d, x) in children(b, data, end)?.into_iter().filter(|(id, ..)| *id == TRACK_ENTRY) {
            let fields = children(b, d, x)?;
            let get = |want: u32| fields.iter().find(|(id, ..)| *id == want).map(|(_, d, x)| be_uint(&b[*d..*x]));
            if get(TRACK_TYPE).transpose()? == Some(AUDIO_TRACK) {
                self.audio_tracks.push(get(TRACK_NUMBER).transpose()?.ok_or(AudioError::Malformed)?);
            }
        }
        Ok(())
    }
}

pub(super) fn duration_ms(b: &[u8]) -> Result<u64, AudioError> {
    let head = element(b, 0, b.len())?;
    let head_end = head.end.filter(|_| head.id == EBML).ok_or(AudioError::Malformed)?;
    let doc = children(b, head.data, head_end)?.into_iter().find(|(id, ..)| *id == DOC_TYPE);
    let doc = doc.map(|(_, d, x)| b[d..x].split(|c| *c == 0).next().unwrap_or_default());
    if doc != Some(b"webm".as_slice()) {
        return Err(AudioError::NotAudio);
    }
    let seg = element(b, head_end, b.len())?;
    if seg.id != SEGMENT {
        return Err(AudioError::Malformed);
    }
    let seg_end = seg.end.unwrap_or(b.len());
    if seg_end != b.len() {
        // Bytes after the segment belong to nothing.
        return Err(AudioError::Malformed);
    }
    let mut w = Walk { scale_ns: 1_000_000, ..Walk::default() };
    let mut at = seg.data;
    while at < seg_end {
        let e = element(b, at, seg_end)?;
        at = match (e.id, e.end) {
            (CLUSTER, end) => w.cluster(b, e.data, end, seg_end)?,
            (INFO, Some(end)) => {
                w.info(b, e.data, end)?;
                end
            }
            (TRACKS, Some(end)) => {
                w.tracks(b, e.data, end)?;
                end
            }
            (id, Some(end)) if OTHER_TOP.contains(&id) || GLOBAL.contains(&id) => end,
            _ => return Err(AudioError::Malformed),
        };
    }
    if w.audio_tracks.is_empty() {
        return Err(AudioError::NoAudioTrack);
    }
    let last = w.last_block.iter().filter(|(n, _)| w.audio_tracks.contains(n)).map(|(_, t)| *t).max();
    let last = last.ok_or(AudioError::NoDuration)?;
    let ticks = match w.info_duration {
        Some(d) if d.is_finite() && d > 0.0 => {
            #[expect(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "finite, positive, clamped")]
            let t = d.min(1e15) as u64;
            t
        }
        _ => u64::try_from(last.max(0)).unwrap_or(u64::MAX),
    };
    Ok(u64::try_from(u128::from(ticks) * u128::from(w.scale_ns) / 1_000_000).unwrap_or(u64::MAX))
}
