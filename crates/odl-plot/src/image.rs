//! Pixels as pictures: a batch of grayscale images laid out as one PNG grid
//! (a GAN's samples, a data set's first images).

use std::io::BufWriter;
use std::path::Path;

/// A grid of `n` grayscale images of `h × w` pixels, `cols` per row, a
/// 1-pixel dark-gray gap between them, each pixel drawn `scale × scale`.
/// `pixels` holds the images one after another, row-major; values map
/// linearly from `lo..=hi` to black..white (clamped; NaN is drawn black).
pub struct GrayGrid<'a> {
    /// the images, `n·h·w` values
    pub pixels: &'a [f64],
    /// height of one image
    pub h: usize,
    /// width of one image
    pub w: usize,
    /// images per row
    pub cols: usize,
    /// the value drawn black and the value drawn white
    pub range: (f64, f64),
    /// pixel magnification
    pub scale: usize,
}

impl GrayGrid<'_> {
    /// The grid's size in pixels `(width, height)` and its 8-bit values, row-major.
    pub fn raster(&self) -> (usize, usize, Vec<u8>) {
        let (h, w, s) = (self.h, self.w, self.scale.max(1));
        let n = self.pixels.len() / (h * w).max(1);
        let cols = self.cols.clamp(1, n.max(1));
        let rows = n.div_ceil(cols).max(1);
        let (gw, gh) = (cols * (w * s + 1) + 1, rows * (h * s + 1) + 1);
        let mut img = vec![64u8; gw * gh];
        let (lo, hi) = self.range;
        for k in 0..n {
            let (r0, c0) = ((k / cols) * (h * s + 1) + 1, (k % cols) * (w * s + 1) + 1);
            for i in 0..h * s {
                for j in 0..w * s {
                    let v = self.pixels[k * h * w + (i / s) * w + j / s];
                    let t = if v.is_nan() { 0.0 } else { ((v - lo) / (hi - lo)).clamp(0.0, 1.0) };
                    img[(r0 + i) * gw + c0 + j] = (t * 255.0).round() as u8;
                }
            }
        }
        (gw, gh, img)
    }

    /// Writes the grid as an 8-bit grayscale PNG.
    pub fn write_png(&self, path: &Path) -> std::io::Result<()> {
        let (gw, gh, img) = self.raster();
        let file = std::fs::File::create(path)?;
        let mut enc = png::Encoder::new(BufWriter::new(file), gw as u32, gh as u32);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().map_err(std::io::Error::other)?;
        writer.write_image_data(&img).map_err(std::io::Error::other)?;
        writer.finish().map_err(std::io::Error::other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_round_trips_the_grid() {
        // three 2×2 images: black, white, a ramp; two per row, scale 2
        let px = [-1.0, -1.0, -1.0, -1.0, 1.0, 1.0, 1.0, 1.0, -1.0, 0.0, 0.5, 1.0];
        let g = GrayGrid { pixels: &px, h: 2, w: 2, cols: 2, range: (-1.0, 1.0), scale: 2 };
        let dir = std::env::temp_dir().join(format!("odl-plot-png-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("grid.png");
        g.write_png(&path).unwrap();
        let dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&path).unwrap()));
        let mut reader = dec.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        // 2 columns × (2·2 + 1) + 1 = 11 wide, 2 rows × 5 + 1 = 11 high
        assert_eq!((info.width, info.height), (11, 11));
        let at = |r: usize, c: usize| buf[r * 11 + c];
        assert_eq!(at(0, 0), 64); // the gap
        assert_eq!(at(1, 1), 0); // first image, black
        assert_eq!(at(4, 4), 0);
        assert_eq!(at(1, 6), 255); // second image, white
        assert_eq!(at(6, 1), 0); // third: its first pixel is −1 (black)
        assert_eq!(at(6, 3), 128); // its second pixel, 0 → mid-gray (127.5 rounds up)
        assert_eq!(at(9, 3), 255); // its last pixel, 1 → white
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
