//! Mutation fuzzing (small count here; `cargo run --release --example fuzz` for ≥ 10 000):
//! no panic in the untrusted-input path, and mutated inputs over HTTP never produce a 5xx.

pub mod common;

use fcctl_function::fuzz;
use fcctl_function::manifest::Manifest;
use fcctl_function::preprocess::DecodeLimits;

pub fn seeds() -> Vec<Vec<u8>> {
    let dev = common::shared().join("images/dev");
    let mut v = vec![
        std::fs::read(common::shared().join("seed/test_dog.jpg")).unwrap(),
        std::fs::read(common::shared().join("seed/test_cat.jpg")).unwrap(),
    ];
    for f in [
        "breeds_chanakya/cat_0.jpg",   // progressive
        "caffe_examples/cat_1.jpg",    // grayscale
        "pillow_tests/other_0.jpg",    // CMYK
        "pillow_tests/other_2.png",    // PNG alpha
        "pillow_tests/other_1.jpg",    // EXIF orientation
        "breeds_chanakya/cat_32.webp", // WebP
        "skimage_data/other_5.png",    // grayscale PNG
    ] {
        v.push(std::fs::read(dev.join(f)).unwrap());
    }
    // Tiny GIF and BMP made here.
    let img = image::RgbImage::from_fn(40, 30, |x, y| image::Rgb([x as u8 * 6, y as u8 * 8, 128]));
    for fmt in [image::ImageFormat::Gif, image::ImageFormat::Bmp] {
        let mut c = std::io::Cursor::new(Vec::new());
        image::DynamicImage::ImageRgb8(img.clone())
            .write_to(&mut c, fmt)
            .unwrap();
        v.push(c.into_inner());
    }
    v
}

#[test]
fn mutated_images_never_panic() {
    let m = Manifest::load(&common::default_model_dir()).unwrap();
    let st = fuzz::run(&seeds(), 600, 0x5eed, &m.input, &DecodeLimits::default());
    println!("{st:?}");
    assert_eq!(st.panics, 0, "{st:?}");
    assert!(st.decoded > 0 && st.rejected > 0, "{st:?}");
}
