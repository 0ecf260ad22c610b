//! Ogg/Opus as Firefox's MediaRecorder writes it: one logical stream of pages, the first holding the
//! `OpusHead` identification header. Every page's checksum is verified, the pages must run to the
//! last byte, and the length is the last page's granule position (48 kHz samples) less the
//! pre-skip.

use super::{AudioError, ticks_to_ms};

const PAGE_HEADER: usize = 27;
const BEGINNING_OF_STREAM: u8 = 0x02;
/// Opus granule positions count 48 kHz samples whatever the input rate.
const OPUS_RATE: u64 = 48_000;

/// The Ogg CRC-32: polynomial 0x04C11DB7, no reflection, initial value 0, no final xor.
const CRC_TABLE: [u32; 256] = {
    let mut table = [0_u32; 256];
    let mut i = 0;
    while i < 256 {
        #[expect(clippy::cast_possible_truncation, reason = "i < 256")]
        let mut r = (i as u32) << 24;
        let mut bit = 0;
        while bit < 8 {
            r = if r & 0x8000_0000 != 0 { (r << 1) ^ 0x04C1_1DB7 } else { r << 1 };
            bit += 1;
        }
        table[i] = r;
        i += 1;
    }
    table
};

/// The checksum of a page with its own checksum field (bytes 22..26) taken as zero.
fn page_crc(page: &[u8]) -> u32 {
    page.iter().enumerate().fold(0_u32, |crc, (i, &byte)| {
        let byte = if (22..26).contains(&i) { 0 } else { byte };
        (crc << 8) ^ CRC_TABLE[usize::from(((crc >> 24) as u8) ^ byte)]
    })
}

fn le_u32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

pub(super) fn duration_ms(b: &[u8]) -> Result<u64, AudioError> {
    let mut at = 0;
    let mut stream: Option<(u32, u64)> = None;
    let mut last_granule = 0_u64;
    while at < b.len() {
        let h = b.get(at..at + PAGE_HEADER).ok_or(AudioError::Malformed)?;
        if &h[..4] != b"OggS" || h[4] != 0 {
            return Err(AudioError::Malformed);
        }
        let segments = usize::from(h[26]);
        let lacing = b.get(at + PAGE_HEADER..at + PAGE_HEADER + segments).ok_or(AudioError::Malformed)?;
        let body_at = at + PAGE_HEADER + segments;
        let end = body_at + lacing.iter().map(|l| usize::from(*l)).sum::<usize>();
        let page = b.get(at..end).ok_or(AudioError::Malformed)?;
        if page_crc(page) != le_u32(&h[22..26]) {
            return Err(AudioError::Malformed);
        }
        let serial = le_u32(&h[14..18]);
        let granule = u64::from_le_bytes(h[6..14].try_into().map_err(|_| AudioError::Malformed)?);
        match stream {
            None => {
                // The first page opens the stream with the Opus identification header.
                let body = &b[body_at..end];
                if h[5] & BEGINNING_OF_STREAM == 0 || body.len() < 19 || !body.starts_with(b"OpusHead") {
                    return Err(AudioError::NoAudioTrack);
                }
                stream = Some((serial, u64::from(u16::from_le_bytes([body[10], body[11]]))));
            }
            // One logical stream: a recording multiplexes nothing else.
            Some((s, _)) if s != serial => return Err(AudioError::Malformed),
            // -1: no packet ends on this page.
            Some(_) if granule != u64::MAX => last_granule = last_granule.max(granule),
            Some(_) => {}
        }
        at = end;
    }
    let (_, pre_skip) = stream.ok_or(AudioError::NoAudioTrack)?;
    let samples = last_granule.checked_sub(pre_skip).filter(|s| *s > 0).ok_or(AudioError::NoDuration)?;
    ticks_to_ms(samples, OPUS_RATE)
}

#[cfg(test)]
mod tests {
    use super::page_crc;

    #[test]
    fn checksum_is_the_ogg_crc() {
        // CRC-32/CKSUM without its final inversion: check value 0x765E7680 ^ 0xFFFFFFFF.
        assert_eq!(page_crc(b"123456789"), 0x89A1_897F);
        let mut page = *b"OggS\0\x02\0\0\0\0\0\0\0\0\x01\0\0\0\0\0\0\0\0\0\0\0\0";
        let a = page_crc(&page);
        page[22] = 0xFF;
        assert_eq!(page_crc(&page), a, "the checksum field itself is not covered");
        page[5] = 0x04;
        assert_ne!(page_crc(&page), a);
    }
}
