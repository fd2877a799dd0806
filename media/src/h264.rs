//! The little of H.264 the packager needs: the picture size from a sequence parameter set
//! (ITU-T H.264 §7.3.2.1.1), for the init segment and the playlists' `RESOLUTION`. Every field
//! comes from the publisher, so the arithmetic on them is checked.

/// The largest picture side accepted. H.264's highest level (6.2) allows 8192×4320; more is a
/// crafted SPS, not a camera.
pub const MAX_DIMENSION: u32 = 16_384;

/// Reads Exp-Golomb coded fields from an RBSP.
struct Bits<'a> {
    data: &'a [u8],
    at: usize,
}

impl Bits<'_> {
    fn bit(&mut self) -> Option<u32> {
        let byte = *self.data.get(self.at / 8)?;
        let bit = (byte >> (7 - self.at % 8)) & 1;
        self.at += 1;
        Some(u32::from(bit))
    }

    fn bits(&mut self, count: u32) -> Option<u32> {
        (0..count).try_fold(0, |value, _| Some((value << 1) | self.bit()?))
    }

    fn unsigned(&mut self) -> Option<u32> {
        let mut zeros = 0;
        while self.bit()? == 0 {
            zeros += 1;
            if zeros > 31 {
                return None;
            }
        }
        Some((1u32 << zeros) - 1 + self.bits(zeros)?)
    }

    fn signed(&mut self) -> Option<i32> {
        let code = self.unsigned()?;
        let magnitude = code.div_ceil(2) as i32;
        Some(if code % 2 == 1 { magnitude } else { -magnitude })
    }
}

/// The NAL unit without emulation-prevention bytes (`00 00 03` → `00 00`).
fn rbsp(nal: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(nal.len());
    let mut zeros = 0;
    for &byte in nal {
        if zeros >= 2 && byte == 3 {
            zeros = 0;
            continue;
        }
        zeros = if byte == 0 { zeros + 1 } else { 0 };
        out.push(byte);
    }
    out
}

fn skip_scaling_list(bits: &mut Bits<'_>, size: u32) -> Option<()> {
    let (mut last, mut next) = (8i32, 8i32);
    for _ in 0..size {
        if next != 0 {
            let delta = i64::from(bits.signed()?);
            next = (i64::from(last) + delta).rem_euclid(256) as i32;
        }
        if next != 0 {
            last = next;
        }
    }
    Some(())
}

/// Width and height in pixels of the pictures a sequence parameter set NAL unit describes
/// (cropping applied), or `None` if it cannot be read or either side is 0 or over
/// [`MAX_DIMENSION`].
pub fn picture_size(sps_nal: &[u8]) -> Option<(u32, u32)> {
    let data = rbsp(sps_nal.get(1..)?);
    let mut bits = Bits { data: &data, at: 0 };
    let profile = bits.bits(8)?;
    bits.bits(16)?; // constraint flags, level
    bits.unsigned()?; // seq_parameter_set_id
    let mut chroma_format = 1;
    if [100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135].contains(&profile) {
        chroma_format = bits.unsigned()?;
        if chroma_format == 3 {
            bits.bit()?; // separate_colour_plane_flag
        }
        bits.unsigned()?; // bit_depth_luma_minus8
        bits.unsigned()?; // bit_depth_chroma_minus8
        bits.bit()?; // qpprime_y_zero_transform_bypass_flag
        if bits.bit()? == 1 {
            for list in 0..if chroma_format == 3 { 12 } else { 8 } {
                if bits.bit()? == 1 {
                    skip_scaling_list(&mut bits, if list < 6 { 16 } else { 64 })?;
                }
            }
        }
    }
    bits.unsigned()?; // log2_max_frame_num_minus4
    match bits.unsigned()? {
        0 => {
            bits.unsigned()?; // log2_max_pic_order_cnt_lsb_minus4
        }
        1 => {
            bits.bit()?;
            bits.signed()?;
            bits.signed()?;
            for _ in 0..bits.unsigned()? {
                bits.signed()?;
            }
        }
        _ => {}
    }
    bits.unsigned()?; // max_num_ref_frames
    bits.bit()?; // gaps_in_frame_num_value_allowed_flag
    let width_in_mbs = bits.unsigned()?.checked_add(1)?;
    let height_in_map_units = bits.unsigned()?.checked_add(1)?;
    let frame_mbs_only = bits.bit()?;
    if frame_mbs_only == 0 {
        bits.bit()?; // mb_adaptive_frame_field_flag
    }
    bits.bit()?; // direct_8x8_inference_flag
    let (mut crop_x, mut crop_y) = (0, 0);
    if bits.bit()? == 1 {
        let (left, right, top, bottom) = (
            bits.unsigned()?,
            bits.unsigned()?,
            bits.unsigned()?,
            bits.unsigned()?,
        );
        let (unit_x, unit_y) = match chroma_format {
            0 => (1, 2 - frame_mbs_only),
            1 => (2, 2 * (2 - frame_mbs_only)),
            2 => (2, 2 - frame_mbs_only),
            _ => (1, 2 - frame_mbs_only),
        };
        crop_x = left.checked_add(right)?.checked_mul(unit_x)?;
        crop_y = top.checked_add(bottom)?.checked_mul(unit_y)?;
    }
    let width = width_in_mbs.checked_mul(16)?.checked_sub(crop_x)?;
    let height = (2 - frame_mbs_only)
        .checked_mul(height_in_map_units)?
        .checked_mul(16)?
        .checked_sub(crop_y)?;
    let side = 1..=MAX_DIMENSION;
    (side.contains(&width) && side.contains(&height)).then_some((width, height))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_1280x720_baseline_sps() {
        // x264's SPS for 1280x720, baseline profile (the one mp4-atom's esds fixture carries).
        let sps = b"gB\xc0\x1f\xda\x01@\x16\xec\x04@\0\0\x03\0@\0\0\x0c#\xc6\x0c\xa8";
        assert_eq!(picture_size(sps), Some((1280, 720)));
    }

    /// Writes Exp-Golomb fields, for SPSs made to order.
    #[derive(Default)]
    struct Writer(Vec<bool>);

    impl Writer {
        fn bits(&mut self, value: u64, count: u32) -> &mut Self {
            for at in (0..count).rev() {
                self.0.push(value >> at & 1 == 1);
            }
            self
        }

        fn unsigned(&mut self, value: u32) -> &mut Self {
            let coded = u64::from(value) + 1;
            let width = 64 - coded.leading_zeros();
            self.bits(0, width - 1).bits(coded, width)
        }

        fn bytes(&self) -> Vec<u8> {
            self.0
                .chunks(8)
                .map(|bits| {
                    bits.iter()
                        .enumerate()
                        .fold(0u8, |byte, (at, &bit)| byte | (u8::from(bit) << (7 - at)))
                })
                .collect()
        }
    }

    /// A baseline SPS of `width_mbs` × `height_mbs` macroblocks, cropped by `crop` units.
    fn sps(width_mbs: u32, height_mbs: u32, crop: Option<[u32; 4]>) -> Vec<u8> {
        let mut writer = Writer::default();
        writer.bits(0x67, 8).bits(66, 8).bits(0x1f, 16);
        writer
            .unsigned(0)
            .unsigned(0)
            .unsigned(0)
            .unsigned(0)
            .unsigned(1)
            .bits(0, 1);
        writer
            .unsigned(width_mbs - 1)
            .unsigned(height_mbs - 1)
            .bits(1, 1)
            .bits(1, 1);
        match crop {
            Some(sides) => {
                writer.bits(1, 1);
                for side in sides {
                    writer.unsigned(side);
                }
            }
            None => {
                writer.bits(0, 1);
            }
        }
        writer.bits(0, 1).bits(1, 8);
        writer.bytes()
    }

    #[test]
    fn crafted_dimensions_are_refused_without_overflow() {
        assert_eq!(picture_size(&sps(80, 45, None)), Some((1280, 720)));
        assert_eq!(
            picture_size(&sps(120, 68, Some([0, 0, 0, 4]))),
            Some((1920, 1080))
        );
        // Width and height in macroblocks as large as Exp-Golomb allows.
        assert_eq!(picture_size(&sps(u32::MAX - 1, 45, None)), None);
        assert_eq!(picture_size(&sps(80, u32::MAX - 1, None)), None);
        assert_eq!(
            picture_size(&sps(1025, 45, None)),
            None,
            "over the largest side"
        );
        // Crop offsets that overflow, or crop the picture away.
        assert_eq!(
            picture_size(&sps(80, 45, Some([u32::MAX - 1, 9, 0, 0]))),
            None
        );
        assert_eq!(picture_size(&sps(80, 45, Some([320, 320, 0, 0]))), None);
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_are_a_size_or_none(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            if let Some((width, height)) = picture_size(&bytes) {
                proptest::prop_assert!(width <= MAX_DIMENSION && height <= MAX_DIMENSION);
            }
        }
    }

    #[test]
    fn garbage_is_none_not_a_panic() {
        assert_eq!(picture_size(&[]), None);
        assert_eq!(picture_size(&[0x67]), None);
        assert_eq!(picture_size(&[0x67, 0x64, 0, 0x1f, 0, 0, 0, 0]), None);
    }
}
