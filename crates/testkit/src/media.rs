//! Small well-formed voice recordings for tests (A1; issue 11 item 18): WebM/Opus as Chrome's
//! MediaRecorder writes it (unknown-size Segment and Clusters, no Duration), Ogg/Opus with real page
//! checksums as Firefox writes it, and MP4/AAC, plain or fragmented as iOS Safari writes it. The
//! frames are placeholders (the server never decodes audio); the containers are complete.

/// One EBML element with an 8-byte size.
fn ebml(id: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut out = id.to_vec();
    out.push(0x01);
    out.extend_from_slice(&(payload.len() as u64).to_be_bytes()[1..]);
    out.extend_from_slice(payload);
    out
}

/// An EBML element of unknown size (a live recording's Segment or Cluster).
fn ebml_open(id: &[u8]) -> Vec<u8> {
    [id, &[0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]].concat()
}

/// WebM with one Opus track (`track_type` 2 = audio; 1 = video for a negative case) and a 20 ms
/// frame every 20 ms for `duration_ms`, in 10-second Clusters.
pub fn webm_track(duration_ms: u32, track_type: u8) -> Vec<u8> {
    let mut header = ebml(&[0x42, 0x86], &[1]);
    header.extend(ebml(&[0x42, 0x82], b"webm"));
    let mut out = ebml(&[0x1A, 0x45, 0xDF, 0xA3], &header);
    out.extend(ebml_open(&[0x18, 0x53, 0x80, 0x67]));
    out.extend(ebml(&[0x15, 0x49, 0xA9, 0x66], &ebml(&[0x2A, 0xD7, 0xB1], &[0x0F, 0x42, 0x40])));
    let mut entry = ebml(&[0xD7], &[1]);
    entry.extend(ebml(&[0x83], &[track_type]));
    entry.extend(ebml(&[0x86], b"A_OPUS"));
    out.extend(ebml(&[0x16, 0x54, 0xAE, 0x6B], &ebml(&[0xAE], &entry)));
    let mut t = 0;
    while t < duration_ms {
        let cluster_start = t;
        out.extend(ebml_open(&[0x1F, 0x43, 0xB6, 0x75]));
        out.extend(ebml(&[0xE7], &cluster_start.to_be_bytes()));
        while t < duration_ms && t - cluster_start < 10_000 {
            let rel = i16::try_from(t - cluster_start).unwrap_or(i16::MAX).to_be_bytes();
            out.extend(ebml(&[0xA3], &[0x81, rel[0], rel[1], 0x80, 0xFC, 0xFF, 0xFE]));
            t += 20;
        }
    }
    out
}

/// A WebM/Opus voice recording of about `duration_ms`.
pub fn webm_opus(duration_ms: u32) -> Vec<u8> {
    webm_track(duration_ms, 2)
}

/// The Ogg checksum, computed bit by bit (independently of the server's table).
fn ogg_crc(page: &[u8]) -> u32 {
    let mut crc = 0_u32;
    for &byte in page {
        crc ^= u32::from(byte) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 { (crc << 1) ^ 0x04C1_1DB7 } else { crc << 1 };
        }
    }
    crc
}

fn ogg_page(flags: u8, granule: u64, seq: u32, packets: &[Vec<u8>]) -> Vec<u8> {
    let mut lacing = Vec::new();
    for p in packets {
        lacing.extend(std::iter::repeat_n(255_u8, p.len() / 255));
        lacing.push(u8::try_from(p.len() % 255).unwrap_or(0));
    }
    let mut page = b"OggS\0".to_vec();
    page.push(flags);
    page.extend_from_slice(&granule.to_le_bytes());
    page.extend_from_slice(&0x5EED_u32.to_le_bytes());
    page.extend_from_slice(&seq.to_le_bytes());
    page.extend_from_slice(&[0; 4]);
    page.push(u8::try_from(lacing.len()).unwrap_or(u8::MAX));
    page.extend(lacing);
    for p in packets {
        page.extend_from_slice(p);
    }
    let crc = ogg_crc(&page);
    page[22..26].copy_from_slice(&crc.to_le_bytes());
    page
}

/// An Ogg/Opus voice recording of about `duration_ms` (pre-skip 312 samples), one page per second.
pub fn ogg_opus(duration_ms: u32) -> Vec<u8> {
    const PRE_SKIP: u16 = 312;
    let mut head = b"OpusHead\x01\x01".to_vec();
    head.extend_from_slice(&PRE_SKIP.to_le_bytes());
    head.extend_from_slice(&48_000_u32.to_le_bytes());
    head.extend_from_slice(&[0, 0, 0]);
    let mut out = ogg_page(0x02, 0, 0, &[head]);
    let tags = [&b"OpusTags"[..], &6_u32.to_le_bytes(), b"yiqiao", &0_u32.to_le_bytes()].concat();
    out.extend(ogg_page(0, 0, 1, &[tags]));
    let frames = (duration_ms / 20).max(1);
    let mut done = 0;
    let mut seq = 2;
    while done < frames {
        let n = (frames - done).min(50);
        done += n;
        let last = done == frames;
        let granule = u64::from(PRE_SKIP) + u64::from(done) * 960;
        let packets: Vec<Vec<u8>> = (0..n).map(|_| vec![0xFC, 0xFF, 0xFE]).collect();
        out.extend(ogg_page(if last { 0x04 } else { 0 }, granule, seq, &packets));
        seq += 1;
    }
    out
}

fn mp4_box(kind: [u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut out = u32::try_from(payload.len() + 8).unwrap_or(u32::MAX).to_be_bytes().to_vec();
    out.extend_from_slice(&kind);
    out.extend_from_slice(payload);
    out
}

/// A version-0 full box: version and flags, then `fields`.
fn full_box(kind: [u8; 4], flags: u32, fields: &[u32]) -> Vec<u8> {
    let mut payload = flags.to_be_bytes().to_vec();
    for f in fields {
        payload.extend_from_slice(&f.to_be_bytes());
    }
    mp4_box(kind, &payload)
}

/// An MP4/AAC voice recording of about `duration_ms` (1024-sample frames at 48 kHz). Fragmented as
/// Safari records (durations 0 in `moov`, the samples in `moof`/`trun`), or plain with declared
/// durations.
pub fn m4a(duration_ms: u32, fragmented: bool) -> Vec<u8> {
    let frames = (u64::from(duration_ms) * 48 / 1024).max(1);
    let frames = u32::try_from(frames).unwrap_or(u32::MAX);
    let declared = if fragmented { 0 } else { duration_ms };
    let mut out = mp4_box(*b"ftyp", b"M4A \0\0\0\0M4A isommp42");
    let movie_header = full_box(*b"mvhd", 0, &[0, 0, 1000, declared]);
    let track_header = full_box(*b"tkhd", 0, &[0, 0, 1]);
    let media_header = full_box(*b"mdhd", 0, &[0, 0, 48_000, if fragmented { 0 } else { frames * 1024 }]);
    let handler = full_box(*b"hdlr", 0, &[0, u32::from_be_bytes(*b"soun"), 0, 0, 0]);
    let media = mp4_box(*b"mdia", &[media_header, handler].concat());
    let track = mp4_box(*b"trak", &[track_header, media].concat());
    let mut moov = [movie_header, track].concat();
    if fragmented {
        moov.extend(mp4_box(*b"mvex", &full_box(*b"trex", 0, &[1, 1, 0, 0, 0])));
    }
    out.extend(mp4_box(*b"moov", &moov));
    if fragmented {
        // tfhd: track 1 with a default sample duration (flag 0x08); trun: sample sizes (0x200).
        let defaults = full_box(*b"tfhd", 0x08, &[1, 1024]);
        let mut sizes = vec![frames];
        sizes.extend(std::iter::repeat_n(3, frames as usize));
        let fragment = mp4_box(*b"traf", &[defaults, full_box(*b"trun", 0x200, &sizes)].concat());
        out.extend(mp4_box(*b"moof", &[full_box(*b"mfhd", 0, &[1]), fragment].concat()));
    }
    out.extend(mp4_box(*b"mdat", &vec![0xFF; frames as usize * 3]));
    out
}
