//! Storyboard sprite sheets: thumbnails laid out in a grid, sheet after sheet, so a player can
//! show a scrubbing preview with one image request per sheet. Where a thumbnail goes is pure
//! arithmetic; a sheet is re-encoded each time a tile is added, so the newest thumbnails show
//! up while the session is live.

use image::codecs::jpeg::JpegEncoder;
use image::{GenericImage, RgbImage};

/// Tiles per sheet: 5 × 5.
pub const COLUMNS: u32 = 5;
pub const ROWS: u32 = 5;
pub const PER_SHEET: u64 = (COLUMNS * ROWS) as u64;

/// Where thumbnail `index` (from 0) lies: its sheet and the tile's top-left pixel.
pub fn place(index: u64, (width, height): (u32, u32)) -> (u64, u32, u32) {
    let tile = (index % PER_SHEET) as u32;
    (
        index / PER_SHEET,
        (tile % COLUMNS) * width,
        (tile / COLUMNS) * height,
    )
}

#[derive(Debug, thiserror::Error)]
#[error("sprite sheet: {0}")]
pub struct SpriteError(String);

/// A JPEG's width and height, from its header.
pub fn dimensions(jpeg: &[u8]) -> Option<(u32, u32)> {
    image::ImageReader::with_format(std::io::Cursor::new(jpeg), image::ImageFormat::Jpeg)
        .into_dimensions()
        .ok()
}

/// The sheet being filled.
pub struct Sheet {
    pub number: u64,
    canvas: RgbImage,
    tile: (u32, u32),
}

impl Sheet {
    pub fn new(number: u64, tile: (u32, u32)) -> Self {
        Self {
            number,
            canvas: RgbImage::new(tile.0 * COLUMNS, tile.1 * ROWS),
            tile,
        }
    }

    /// Draws thumbnail `index` (a JPEG) into its tile; a picture of another size is scaled.
    pub fn draw(&mut self, index: u64, jpeg: &[u8]) -> Result<(), SpriteError> {
        let picture = image::load_from_memory_with_format(jpeg, image::ImageFormat::Jpeg)
            .map_err(|error| SpriteError(error.to_string()))?;
        let picture = if (picture.width(), picture.height()) == self.tile {
            picture.to_rgb8()
        } else {
            picture
                .resize_exact(
                    self.tile.0,
                    self.tile.1,
                    image::imageops::FilterType::Triangle,
                )
                .to_rgb8()
        };
        let (_, x, y) = place(index, self.tile);
        self.canvas
            .copy_from(&picture, x, y)
            .map_err(|error| SpriteError(error.to_string()))
    }

    pub fn encode(&self) -> Result<Vec<u8>, SpriteError> {
        let mut out = Vec::new();
        JpegEncoder::new_with_quality(&mut out, 75)
            .encode_image(&self.canvas)
            .map_err(|error| SpriteError(error.to_string()))?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_fill_rows_then_sheets() {
        assert_eq!(place(0, (160, 90)), (0, 0, 0));
        assert_eq!(place(4, (160, 90)), (0, 640, 0));
        assert_eq!(place(5, (160, 90)), (0, 0, 90));
        assert_eq!(place(24, (160, 90)), (0, 640, 360));
        assert_eq!(place(25, (160, 90)), (1, 0, 0));
    }

    #[test]
    fn a_drawn_tile_lands_where_place_says() {
        let mut red = Vec::new();
        JpegEncoder::new_with_quality(&mut red, 90)
            .encode_image(&RgbImage::from_pixel(16, 9, image::Rgb([250, 0, 0])))
            .unwrap();
        let mut sheet = Sheet::new(0, (16, 9));
        sheet.draw(7, &red).unwrap();
        let decoded = image::load_from_memory(&sheet.encode().unwrap())
            .unwrap()
            .to_rgb8();
        assert_eq!(decoded.dimensions(), (80, 45));
        let (_, x, y) = place(7, (16, 9));
        assert!(decoded.get_pixel(x + 8, y + 4)[0] > 200, "the tile is red");
        assert!(decoded.get_pixel(2, 2)[0] < 50, "the rest is black");
        assert!(sheet.draw(8, b"not a jpeg").is_err());
    }
}
