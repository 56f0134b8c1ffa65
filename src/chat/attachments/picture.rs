//! Images (docs/protocol.md §9): their size read from the header before
//! anything is decoded, so a small file that claims 100 000 × 100 000
//! pixels is refused without allocating it; then a decode with the `image`
//! crate's allocation limit and a thumbnail at most 320 px on its long
//! side, turned upright by the EXIF orientation.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

use super::kind::Kind;
use crate::error::{AppError, AppResult};

/// The long side of a thumbnail, at most.
pub const THUMBNAIL_PX: u32 = 320;

/// A decoded image's size and thumbnail.
#[derive(Debug)]
pub struct Picture {
    pub width: u32,
    pub height: u32,
    pub thumbnail: Vec<u8>,
    /// `image/png`, or `image/jpeg` for a JPEG.
    pub thumbnail_type: &'static str,
}

/// Reads an uploaded image: refuses it (`invalid_payload`) over
/// `max_pixels` or when it does not decode. CPU-bound: run it off the
/// async threads.
pub fn inspect(bytes: &[u8], kind: Kind, max_pixels: u64) -> AppResult<Picture> {
    let format = match kind {
        Kind::Png => ImageFormat::Png,
        Kind::Jpeg => ImageFormat::Jpeg,
        Kind::Gif => ImageFormat::Gif,
        Kind::Webp => ImageFormat::WebP,
        _ => return Err(AppError::Internal(format!("{kind:?} is no image"))),
    };
    let undecodable =
        |e: image::ImageError| AppError::invalid(format!("the image does not decode: {e}"));
    let (width, height) = ImageReader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(undecodable)?;
    if u64::from(width) * u64::from(height) > max_pixels {
        return Err(AppError::invalid(format!(
            "the image is {width} x {height} pixels, more than {max_pixels}"
        )));
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(width);
    limits.max_image_height = Some(height);
    // RGBA of 16 bits per channel, and the decoder's own buffers.
    limits.max_alloc = Some((u64::from(width) * u64::from(height) * 8).max(1 << 20) * 2);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(undecodable)?;
    let orientation = decoder.orientation().map_err(undecodable)?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(undecodable)?;
    image.apply_orientation(orientation);
    let (width, height) = (image.width(), image.height());
    let small = if width <= THUMBNAIL_PX && height <= THUMBNAIL_PX {
        image
    } else {
        image.thumbnail(THUMBNAIL_PX, THUMBNAIL_PX)
    };
    let mut thumbnail = Vec::new();
    let thumbnail_type = if kind == Kind::Jpeg {
        JpegEncoder::new_with_quality(&mut thumbnail, 80)
            .encode_image(&small.to_rgb8())
            .map_err(|e| AppError::Internal(format!("thumbnail: {e}")))?;
        "image/jpeg"
    } else {
        small
            .write_to(&mut Cursor::new(&mut thumbnail), ImageFormat::Png)
            .map_err(|e| AppError::Internal(format!("thumbnail: {e}")))?;
        "image/png"
    };
    Ok(Picture {
        width,
        height,
        thumbnail,
        thumbnail_type,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageBuffer, Rgba};

    fn png(width: u32, height: u32) -> Vec<u8> {
        let img = ImageBuffer::from_pixel(width, height, Rgba([10u8, 200, 30, 255]));
        let mut out = Vec::new();
        DynamicImage::ImageRgba8(img)
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .expect("encodes");
        out
    }

    #[test]
    fn a_thumbnail_fits_320_and_keeps_the_aspect() {
        let picture = inspect(&png(1000, 500), Kind::Png, 40_000_000).expect("an image");
        assert_eq!((picture.width, picture.height), (1000, 500));
        let thumb = image::load_from_memory(&picture.thumbnail).expect("a PNG");
        assert_eq!((thumb.width(), thumb.height()), (320, 160));
    }

    #[test]
    fn a_small_image_is_not_upscaled() {
        let picture = inspect(&png(40, 30), Kind::Png, 40_000_000).expect("an image");
        let thumb = image::load_from_memory(&picture.thumbnail).expect("a PNG");
        assert_eq!((thumb.width(), thumb.height()), (40, 30));
    }

    #[test]
    fn too_many_pixels_is_refused_from_the_header() {
        let err = inspect(&png(100, 100), Kind::Png, 9_999).unwrap_err();
        assert_eq!(err.code(), crate::error::ErrorCode::InvalidPayload);
    }

    #[test]
    fn bytes_that_do_not_decode_are_refused() {
        let mut broken = png(50, 50);
        broken.truncate(60);
        let err = inspect(&broken, Kind::Png, 40_000_000).unwrap_err();
        assert_eq!(err.code(), crate::error::ErrorCode::InvalidPayload);
    }
}
