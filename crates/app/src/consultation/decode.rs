//! Bounded image decoding (S1 photos; issue 11 item 3). A small PNG can declare 12000×12000 pixels
//! and take ~410 MiB once decoded, so every image is judged by its header first: more pixels than
//! `[images] max_pixels` is refused with `image_too_large` before any decoding. Decoders also run
//! with `image::Limits` (a ceiling on dimensions and on what they may allocate) in case a header
//! lies, and decodes — thumbnails and PDF exports — take a slot from `App::decode_slots`, so the
//! memory they use together is bounded; a request waits for a slot, at most
//! `[images] decode_wait_secs`, then answers `busy`.

use std::io::Cursor;

use image::{DynamicImage, ImageReader, Limits};

use crate::{App, AppError};

/// Bytes a decoder may allocate per pixel of the budget: 8-bit RGBA.
const BYTES_PER_PIXEL: u64 = 4;
/// Longest side accepted whatever the budget (a panorama of 40 MP is 40,000 × 1,000).
const MAX_SIDE: u32 = 40_000;

fn too_large(max_pixels: u64) -> AppError {
    AppError::invalid(
        "image_too_large",
        format!(
            "The image has too many pixels (at most {} megapixels); please send a smaller photo.",
            max_pixels / 1_000_000
        ),
    )
}

fn limits(max_pixels: u64) -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(max_pixels.saturating_mul(BYTES_PER_PIXEL));
    limits
}

fn reader(bytes: &[u8], max_pixels: u64) -> Result<ImageReader<Cursor<&[u8]>>, AppError> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|_| AppError::invalid("upload_corrupt", "The image could not be read."))?;
    reader.limits(limits(max_pixels));
    Ok(reader)
}

/// Reads only the header: the image's width and height, or `image_too_large` when it has more than
/// `max_pixels` pixels (or a side over 40,000).
pub fn check_header(bytes: &[u8], max_pixels: u64) -> Result<(u32, u32), AppError> {
    let (w, h) = reader(bytes, max_pixels)?.into_dimensions().map_err(|e| match e {
        image::ImageError::Limits(_) => too_large(max_pixels),
        _ => AppError::invalid("upload_corrupt", "The image could not be read."),
    })?;
    if u64::from(w) * u64::from(h) > max_pixels {
        return Err(too_large(max_pixels));
    }
    Ok((w, h))
}

/// Decodes an image whose header is within the budget, under the decoder limits.
pub fn decode(bytes: &[u8], max_pixels: u64) -> Result<DynamicImage, AppError> {
    check_header(bytes, max_pixels)?;
    reader(bytes, max_pixels)?.decode().map_err(|e| match e {
        image::ImageError::Limits(_) => too_large(max_pixels),
        _ => AppError::invalid("upload_corrupt", "The image could not be read."),
    })
}

/// A decode slot: held while an image is decoded (or a PDF export drawn), released when dropped.
pub async fn slot(app: &App) -> Result<tokio::sync::OwnedSemaphorePermit, AppError> {
    let wait = std::time::Duration::from_secs(app.config.limits.image_decode_wait_secs.max(1));
    match tokio::time::timeout(wait, app.decode_slots.clone().acquire_owned()).await {
        Ok(Ok(permit)) => Ok(permit),
        Ok(Err(_)) => Err(AppError::Internal("decode slots closed")),
        Err(_) => {
            tracing::warn!(wait_secs = wait.as_secs(), "no image decode slot came free; answering busy");
            Err(AppError::Busy)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let mut out = Vec::new();
        image::GrayImage::from_pixel(w, h, image::Luma([200]))
            .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn the_header_decides_before_any_decoding() {
        assert_eq!(check_header(&png(40, 30), 1200).unwrap(), (40, 30));
        assert_eq!(check_header(&png(40, 31), 1200).unwrap_err().code(), "image_too_large");
        assert_eq!(check_header(b"not an image", 1200).unwrap_err().code(), "upload_corrupt");
        assert_eq!(decode(&png(40, 31), 1200).unwrap_err().code(), "image_too_large");
        assert_eq!(decode(&png(40, 30), 1200).unwrap().width(), 40);
    }

    #[test]
    fn decoders_refuse_to_allocate_past_the_budget() {
        // 40×30 grey is 1,200 bytes decoded; the limits allow 4 bytes per budgeted pixel.
        let mut r = ImageReader::new(Cursor::new(png(40, 30))).with_guessed_format().unwrap();
        r.limits(limits(200));
        assert!(matches!(r.decode(), Err(image::ImageError::Limits(_))));
    }
}
