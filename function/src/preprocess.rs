//! Image bytes → model input tensor, driven by the manifest. Hostile input is bounded:
//! the format is sniffed from content, dimensions are checked from the header before any
//! pixel buffer is allocated, and decoder allocations are capped.

use std::io::Cursor;

use fast_image_resize::pixels::U8x3;
use fast_image_resize::{self as fir, ResizeAlg, ResizeOptions, Resizer};
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

use crate::manifest::{CropPolicy, InputSpec, Layout, ResizeFilter};

/// Bounds applied to every decode.
#[derive(Debug, Clone, Copy)]
pub struct DecodeLimits {
    /// Maximum width × height accepted (checked from the header, before decoding).
    pub max_pixels: u64,
    /// Maximum width or height.
    pub max_side: u32,
    /// Cap on the decoder's own allocations (output buffer included), bytes.
    pub max_alloc: u64,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        // 25 Mpx covers 6000×4000 camera photos; RGBA8 at that size is 100 MB.
        Self {
            max_pixels: 25_000_000,
            max_side: 20_000,
            max_alloc: 128 << 20,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("the request body is empty: send the image bytes (JPEG, PNG, WebP, GIF or BMP)")]
    Empty,
    #[error(
        "unrecognised image format: the content is not JPEG, PNG, WebP, GIF or BMP \
         (the format is detected from the bytes, not the file name)"
    )]
    UnknownFormat,
    #[error("{0:?} images are not supported: send JPEG, PNG, WebP, GIF or BMP")]
    UnsupportedFormat(ImageFormat),
    #[error(
        "image is {width}×{height} = {mpx:.1} Mpx, over the {limit_mpx:.1} Mpx budget: \
         downscale it before uploading"
    )]
    TooManyPixels {
        width: u32,
        height: u32,
        mpx: f64,
        limit_mpx: f64,
    },
    #[error("image needs more memory to decode than allowed ({0}): downscale it before uploading")]
    TooMuchMemory(String),
    #[error("image has zero width or height")]
    ZeroSize,
    #[error("the JPEG is truncated: {0}; send the whole file")]
    Truncated(&'static str),
    #[error("cannot decode the image (truncated or corrupt?): {0}")]
    Corrupt(String),
}

/// Whether a JPEG reaches its end-of-image marker, walking its segments and scans. The
/// decoder does not say: it fills whatever a cut-off scan leaves undecoded with grey and
/// reports success, so a tenth of a photo was classified like a whole one. Bytes after the
/// marker (camera trailers, padding) are allowed, as decoders and browsers allow them.
///
/// # Errors
///
/// [`DecodeError::Truncated`] naming where the data stops.
pub fn check_jpeg_complete(b: &[u8]) -> Result<(), DecodeError> {
    let mut i = 2; // after SOI
    let mut scans = 0u32;
    loop {
        // Tolerate stray bytes between segments (as the decoder does), then fill bytes.
        while i < b.len() && b[i] != 0xFF {
            i += 1;
        }
        while i < b.len() && b[i] == 0xFF {
            i += 1;
        }
        let Some(&marker) = b.get(i) else {
            return Err(DecodeError::Truncated(
                "the data stops before its end-of-image marker",
            ));
        };
        i += 1;
        match marker {
            0xD9 if scans > 0 => return Ok(()),
            0xD9 => {
                return Err(DecodeError::Truncated(
                    "it ends before any image data (no scan)",
                ));
            }
            // Standalone markers: no length follows.
            0x00 | 0x01 | 0xD0..=0xD8 => continue,
            _ => {}
        }
        let Some(len) = b.get(i..i + 2) else {
            return Err(DecodeError::Truncated("a segment header is cut off"));
        };
        let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
        if len < 2 {
            // Malformed, not truncated: the decoder names it.
            return Ok(());
        }
        i += len;
        if i > b.len() {
            return Err(DecodeError::Truncated("a segment is cut off"));
        }
        if marker == 0xDA {
            scans += 1;
            i = scan_end(b, i).ok_or(DecodeError::Truncated(
                "its scan data stops before the end-of-image marker",
            ))?;
        }
    }
}

/// Where the entropy-coded data starting at `i` ends: the first marker that is not a stuffed
/// zero (`FF 00`) or a restart (`FF D0`–`FF D7`); `None` when the data runs out first.
fn scan_end(b: &[u8], mut i: usize) -> Option<usize> {
    loop {
        i += b.get(i..)?.iter().position(|&x| x == 0xFF)?;
        let mut j = i + 1;
        while b.get(j) == Some(&0xFF) {
            j += 1;
        }
        match *b.get(j)? {
            0x00 | 0xD0..=0xD7 => i = j + 1,
            _ => return Some(i),
        }
    }
}

/// Sniffed format, or an error for unknown/unsupported content.
pub fn sniff(bytes: &[u8]) -> Result<ImageFormat, DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    let fmt = image::guess_format(bytes).map_err(|_| DecodeError::UnknownFormat)?;
    match fmt {
        ImageFormat::Jpeg
        | ImageFormat::Png
        | ImageFormat::WebP
        | ImageFormat::Gif
        | ImageFormat::Bmp => Ok(fmt),
        other => Err(DecodeError::UnsupportedFormat(other)),
    }
}

fn map_image_err(e: image::ImageError) -> DecodeError {
    match e {
        image::ImageError::Limits(l) => DecodeError::TooMuchMemory(l.to_string()),
        image::ImageError::Unsupported(u) => DecodeError::Corrupt(u.to_string()),
        other => DecodeError::Corrupt(other.to_string()),
    }
}

/// Decode to 8-bit RGB with EXIF orientation applied. Alpha is dropped (as Pillow's
/// `convert("RGB")` does); GIFs use their first frame; CMYK/grey JPEGs become RGB.
pub fn decode_rgb(bytes: &[u8], limits: &DecodeLimits) -> Result<image::RgbImage, DecodeError> {
    let fmt = sniff(bytes)?;
    if fmt == ImageFormat::Jpeg {
        check_jpeg_complete(bytes)?;
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), fmt);
    let mut l = Limits::default();
    l.max_image_width = Some(limits.max_side);
    l.max_image_height = Some(limits.max_side);
    l.max_alloc = Some(limits.max_alloc);
    // Header-only dimension check happens in into_decoder/from_decoder via limits; we also
    // check the pixel budget explicitly below (limits bound each side, not the product).
    let mut big = l.clone();
    big.max_image_width = None;
    big.max_image_height = None;
    reader.limits(big);
    let mut decoder = reader.into_decoder().map_err(map_image_err)?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(DecodeError::ZeroSize);
    }
    let px = u64::from(width) * u64::from(height);
    if px > limits.max_pixels || width > limits.max_side || height > limits.max_side {
        return Err(DecodeError::TooManyPixels {
            width,
            height,
            mpx: px as f64 / 1e6,
            limit_mpx: limits.max_pixels as f64 / 1e6,
        });
    }
    decoder.set_limits(l).map_err(map_image_err)?;
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(map_image_err)?;
    img.apply_orientation(orientation);
    Ok(match img {
        DynamicImage::ImageRgb8(rgb) => rgb,
        other => other.into_rgb8(),
    })
}

/// Resize/crop per the manifest to `input.width × input.height` RGB8.
pub fn resize_rgb(img: &image::RgbImage, spec: &InputSpec) -> Result<Vec<u8>, DecodeError> {
    let (w, h) = img.dimensions();
    let (ow, oh) = (spec.width, spec.height);
    // Source rectangle (left, top, width, height) in source pixels.
    let (cl, ct, cw, ch) = match spec.crop {
        CropPolicy::Squash => (0.0, 0.0, f64::from(w), f64::from(h)),
        CropPolicy::Center => {
            // Centre crop with the output's aspect ratio, side = fraction · shorter side.
            let target_ar = f64::from(ow) / f64::from(oh);
            let (fw, fh) = (f64::from(w), f64::from(h));
            let (mut cw, mut ch) = if fw / fh > target_ar {
                (fh * target_ar, fh)
            } else {
                (fw, fw / target_ar)
            };
            cw *= spec.crop_fraction;
            ch *= spec.crop_fraction;
            ((fw - cw) / 2.0, (fh - ch) / 2.0, cw, ch)
        }
    };
    match spec.resize {
        ResizeFilter::Nearest => Ok(nearest(img, (cl, ct, cw, ch), ow, oh)),
        ResizeFilter::Bilinear => {
            // The typed API: the untyped one dispatches on the pixel type at run time, which
            // compiles every pixel format's kernels into the function — among them f32 SIMD
            // loops that this toolchain's LLVM optimises differently from build to build, so
            // no two builds of the function were byte-identical.
            let src = fir::images::TypedImageRef::<U8x3>::from_buffer(w, h, img.as_raw())
                .map_err(|e| DecodeError::Corrupt(e.to_string()))?;
            let mut out = vec![0u8; ow as usize * oh as usize * 3];
            let mut dst = fir::images::TypedImage::<U8x3>::from_buffer(ow, oh, &mut out)
                .map_err(|e| DecodeError::Corrupt(e.to_string()))?;
            let opts = ResizeOptions::new()
                .resize_alg(ResizeAlg::Convolution(fir::FilterType::Bilinear))
                .crop(cl, ct, cw, ch);
            Resizer::new()
                .resize_typed(&src, &mut dst, &opts)
                .map_err(|e| DecodeError::Corrupt(format!("resize failed: {e}")))?;
            drop(dst);
            Ok(out)
        }
    }
}

/// Pillow-style NEAREST: sample the source pixel under each output pixel's centre.
fn nearest(
    img: &image::RgbImage,
    (cl, ct, cw, ch): (f64, f64, f64, f64),
    ow: u32,
    oh: u32,
) -> Vec<u8> {
    let (w, h) = img.dimensions();
    let raw = img.as_raw();
    let sx = cw / f64::from(ow);
    let sy = ch / f64::from(oh);
    let mut out = Vec::with_capacity((ow * oh * 3) as usize);
    for y in 0..oh {
        let yy = ((ct + (f64::from(y) + 0.5) * sy) as u32).min(h - 1);
        for x in 0..ow {
            let xx = ((cl + (f64::from(x) + 0.5) * sx) as u32).min(w - 1);
            let i = ((yy * w + xx) * 3) as usize;
            out.extend_from_slice(&raw[i..i + 3]);
        }
    }
    out
}

/// RGB8 pixels → normalised f32 tensor data in the manifest's layout (batch of one).
pub fn to_tensor(rgb: &[u8], spec: &InputSpec) -> Vec<f32> {
    let n = (spec.width * spec.height) as usize;
    let mut out = vec![0f32; n * 3];
    let inv = spec.std.map(|s| 1.0 / s);
    match spec.layout {
        Layout::Nhwc => {
            for (i, (o, v)) in out.iter_mut().zip(rgb).enumerate() {
                let c = i % 3;
                *o = (f32::from(*v) - spec.mean[c]) * inv[c];
            }
        }
        Layout::Nchw => {
            let (r, rest) = out.split_at_mut(n);
            let (g, b) = rest.split_at_mut(n);
            for (i, px) in rgb.chunks_exact(3).enumerate() {
                r[i] = (f32::from(px[0]) - spec.mean[0]) * inv[0];
                g[i] = (f32::from(px[1]) - spec.mean[1]) * inv[1];
                b[i] = (f32::from(px[2]) - spec.mean[2]) * inv[2];
            }
        }
    }
    out
}

/// Timings of one preprocessing run, milliseconds.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct PrepTimings {
    pub decode_ms: f64,
    pub resize_ms: f64,
}

/// Bytes → tensor data, with timings.
pub fn preprocess(
    bytes: &[u8],
    spec: &InputSpec,
    limits: &DecodeLimits,
) -> Result<(Vec<f32>, PrepTimings), DecodeError> {
    let t0 = std::time::Instant::now();
    let img = decode_rgb(bytes, limits)?;
    let t1 = std::time::Instant::now();
    let rgb = resize_rgb(&img, spec)?;
    drop(img);
    let tensor = to_tensor(&rgb, spec);
    let t2 = std::time::Instant::now();
    Ok((
        tensor,
        PrepTimings {
            decode_ms: (t1 - t0).as_secs_f64() * 1e3,
            resize_ms: (t2 - t1).as_secs_f64() * 1e3,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A baseline JPEG made here: a gradient, so every scan has real data.
    fn baseline_jpeg() -> Vec<u8> {
        let img = image::RgbImage::from_fn(320, 240, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x * y) % 256) as u8])
        });
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
            .encode_image(&img)
            .unwrap();
        out
    }

    fn shared_images() -> std::path::PathBuf {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/images");
        assert!(
            p.is_dir(),
            "test photos not found at {} (the ../shared checkout next to the repo)",
            p.display()
        );
        p
    }

    /// The progressive photos of the dev set (labels.csv flags them), read at run time.
    fn progressive_photos() -> Vec<(String, Vec<u8>)> {
        let dev = shared_images().join("dev");
        let csv = std::fs::read_to_string(dev.join("labels.csv")).unwrap();
        let photos: Vec<(String, Vec<u8>)> = csv
            .lines()
            .filter(|l| l.contains("progressive"))
            .take(5)
            .map(|l| {
                let file = l.split(',').next().unwrap().to_string();
                let bytes = std::fs::read(dev.join(&file)).unwrap();
                (file, bytes)
            })
            .collect();
        assert!(
            photos.len() >= 3,
            "only {} progressive photos",
            photos.len()
        );
        photos
    }

    fn is_progressive(jpeg: &[u8]) -> bool {
        jpeg.windows(2).any(|w| w == [0xFF, 0xC2])
    }

    #[test]
    fn truncated_jpegs_baseline_and_progressive_are_refused_as_truncated() {
        let mut cases = vec![("generated baseline".to_string(), baseline_jpeg())];
        assert!(!is_progressive(&cases[0].1));
        let progressive = progressive_photos();
        assert!(progressive.iter().all(|(_, b)| is_progressive(b)));
        cases.extend(progressive);
        let limits = DecodeLimits::default();
        for (name, whole) in &cases {
            decode_rgb(whole, &limits).unwrap_or_else(|e| panic!("{name} whole: {e}"));
            for pct in [10, 50, 90] {
                let cut = &whole[..whole.len() * pct / 100];
                match decode_rgb(cut, &limits) {
                    Err(DecodeError::Truncated(_)) => {}
                    other => panic!("{name} cut at {pct} %: {:?}", other.map(|i| i.dimensions())),
                }
            }
            // Cut just before the end-of-image marker: every scan but the last bytes.
            let cut = &whole[..whole.len() - 2];
            assert!(
                matches!(decode_rgb(cut, &limits), Err(DecodeError::Truncated(_))),
                "{name} without its end-of-image marker"
            );
        }
    }

    #[test]
    fn complete_jpegs_pass_the_truncation_check_whatever_follows_them() {
        // Every JPEG photo of the shared set, some with bytes after their end-of-image marker.
        let mut n = 0;
        let mut stack = vec![shared_images()];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "jpg") {
                    let b = std::fs::read(&p).unwrap();
                    check_jpeg_complete(&b).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                    n += 1;
                }
            }
        }
        assert!(n > 500, "only {n} photos");
        let mut trailer = baseline_jpeg();
        trailer.extend_from_slice(b"\0\0camera trailer\xff\xd8");
        check_jpeg_complete(&trailer).unwrap();
    }
}
