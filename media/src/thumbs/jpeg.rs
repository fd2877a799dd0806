//! Splits a stream of concatenated JPEG pictures (ffmpeg's `image2pipe` of MJPEG) into whole
//! pictures: each runs from its start-of-image marker (FF D8) to its end-of-image marker
//! (FF D9), which cannot occur inside the entropy-coded data (an FF there is stuffed with 00).
//! Pure.

use bytes::{Bytes, BytesMut};

/// The largest picture kept while its end has not come; past it the picture is dropped (a
/// thumbnail is tens of kilobytes).
pub const MAX_PICTURE_BYTES: usize = 8 * 1024 * 1024;

#[derive(Default)]
pub struct JpegSplitter {
    buffer: BytesMut,
}

impl JpegSplitter {
    /// Bytes held for a picture not yet complete.
    pub fn held_bytes(&self) -> usize {
        self.buffer.len()
    }

    /// Takes more bytes; returns the pictures they completed.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Bytes> {
        self.buffer.extend_from_slice(bytes);
        let mut pictures = Vec::new();
        loop {
            let Some(start) = find(&self.buffer, [0xFF, 0xD8], 0) else {
                // Nothing that starts a picture: keep a trailing FF that may begin one.
                let keep = usize::from(self.buffer.last() == Some(&0xFF));
                let drop = self.buffer.len() - keep;
                let _ = self.buffer.split_to(drop);
                return pictures;
            };
            let Some(end) = find(&self.buffer, [0xFF, 0xD9], start + 2) else {
                let _ = self.buffer.split_to(start);
                if self.buffer.len() > MAX_PICTURE_BYTES {
                    self.buffer.clear();
                }
                return pictures;
            };
            let _ = self.buffer.split_to(start);
            pictures.push(self.buffer.split_to(end + 2 - start).freeze());
        }
    }
}

fn find(haystack: &[u8], marker: [u8; 2], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(2)
        .position(|pair| pair == marker)
        .map(|at| at + from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pictures_split_anywhere_come_out_whole_and_garbage_between_is_dropped() {
        let one = [0xFF, 0xD8, 1, 2, 0xFF, 0x00, 3, 0xFF, 0xD9];
        let two = [0xFF, 0xD8, 4, 0xFF, 0xD9];
        let stream: Vec<u8> = [&[7u8, 7][..], &one, &[9], &two].concat();
        for split in 0..stream.len() {
            let mut splitter = JpegSplitter::default();
            let mut pictures = splitter.push(&stream[..split]);
            pictures.extend(splitter.push(&stream[split..]));
            assert_eq!(
                pictures,
                vec![Bytes::copy_from_slice(&one), Bytes::copy_from_slice(&two)],
                "{split}"
            );
        }
    }
}
