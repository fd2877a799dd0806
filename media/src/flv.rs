//! FLV tag bodies (what RTMP carries and what an FLV file holds) → media frames. Pure: bytes in,
//! frames or a clear error out. H.264 video and AAC audio, per the FLV spec v10.1 (E.4.2, E.4.3).

use bytes::Bytes;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FlvError {
    #[error("truncated {0}")]
    Truncated(&'static str),
    #[error("unsupported video codec id {0} (only H.264/AVC, id 7)")]
    VideoCodec(u8),
    #[error("unsupported audio format {0} (only AAC, format 10)")]
    AudioFormat(u8),
    #[error("not an FLV file")]
    NotFlv,
}

/// One unit of media, timestamps in milliseconds as FLV carries them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// An AVCDecoderConfigurationRecord (ISO 14496-15 §5.2.4.1).
    VideoConfig(Bytes),
    /// An AudioSpecificConfig (ISO 14496-3 §1.6.2.1).
    AudioConfig(Bytes),
    /// One H.264 access unit, length-prefixed NAL units as in MP4.
    Video {
        dts: i64,
        composition_offset: i32,
        keyframe: bool,
        data: Bytes,
    },
    /// One raw AAC frame.
    Audio { dts: i64, data: Bytes },
}

/// Parses a video tag body. `Ok(None)` for packets that carry no frame (end of sequence, an
/// empty NALU packet, the command frames of frame type 5).
pub fn video(timestamp: i64, body: &Bytes) -> Result<Option<Frame>, FlvError> {
    let &first = body.first().ok_or(FlvError::Truncated("video tag"))?;
    let (frame_type, codec) = (first >> 4, first & 0x0f);
    if codec != 7 {
        return Err(FlvError::VideoCodec(codec));
    }
    if body.len() < 5 {
        return Err(FlvError::Truncated("AVC packet header"));
    }
    let composition = i32::from_be_bytes([0, body[2], body[3], body[4]]);
    // Sign-extend the 24-bit composition time offset.
    let composition_offset = (composition << 8) >> 8;
    let payload = body.slice(5..);
    Ok(match body[1] {
        0 => Some(Frame::VideoConfig(payload)),
        1 if frame_type != 5 && !payload.is_empty() => Some(Frame::Video {
            dts: timestamp,
            composition_offset,
            keyframe: frame_type == 1,
            data: payload,
        }),
        _ => None,
    })
}

/// Parses an audio tag body.
pub fn audio(timestamp: i64, body: &Bytes) -> Result<Option<Frame>, FlvError> {
    let &first = body.first().ok_or(FlvError::Truncated("audio tag"))?;
    let format = first >> 4;
    if format != 10 {
        return Err(FlvError::AudioFormat(format));
    }
    if body.len() < 2 {
        return Err(FlvError::Truncated("AAC packet header"));
    }
    let payload = body.slice(2..);
    Ok(match body[1] {
        0 => Some(Frame::AudioConfig(payload)),
        _ if !payload.is_empty() => Some(Frame::Audio {
            dts: timestamp,
            data: payload,
        }),
        _ => None,
    })
}

/// A tag of an FLV file: type 8 audio, 9 video, 18 script data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tag {
    pub kind: u8,
    pub timestamp: i64,
    pub body: Bytes,
}

/// The tags of a whole FLV file (or of its start, if it was cut mid-tag).
pub fn file_tags(file: &Bytes) -> Result<Vec<Tag>, FlvError> {
    if file.len() < 13 || &file[..3] != b"FLV" {
        return Err(FlvError::NotFlv);
    }
    let header_size = u32::from_be_bytes([file[5], file[6], file[7], file[8]]) as usize;
    let mut at = header_size + 4;
    let mut tags = Vec::new();
    while at + 11 <= file.len() {
        let kind = file[at] & 0x1f;
        let size = u32::from_be_bytes([0, file[at + 1], file[at + 2], file[at + 3]]) as usize;
        let timestamp = i64::from(u32::from_be_bytes([
            file[at + 7],
            file[at + 4],
            file[at + 5],
            file[at + 6],
        ]));
        let body_start = at + 11;
        if body_start + size > file.len() {
            break;
        }
        tags.push(Tag {
            kind,
            timestamp,
            body: file.slice(body_start..body_start + size),
        });
        at = body_start + size + 4;
    }
    Ok(tags)
}

/// The frames of an FLV file's audio and video tags, in file order.
pub fn file_frames(file: &Bytes) -> Result<Vec<Frame>, FlvError> {
    let mut frames = Vec::new();
    for tag in file_tags(file)? {
        let frame = match tag.kind {
            8 => audio(tag.timestamp, &tag.body)?,
            9 => video(tag.timestamp, &tag.body)?,
            _ => None,
        };
        frames.extend(frame);
    }
    Ok(frames)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keyframe_with_a_negative_composition_offset() {
        let body = Bytes::from_static(&[0x17, 1, 0xff, 0xff, 0xd8, 0, 0, 0, 1, 0x65]);
        let frame = video(1000, &body).unwrap().unwrap();
        assert_eq!(
            frame,
            Frame::Video {
                dts: 1000,
                composition_offset: -40,
                keyframe: true,
                data: Bytes::from_static(&[0, 0, 0, 1, 0x65])
            }
        );
    }

    #[test]
    fn sequence_headers_become_configs() {
        let video_config = video(0, &Bytes::from_static(&[0x17, 0, 0, 0, 0, 1, 0x64])).unwrap();
        assert_eq!(
            video_config,
            Some(Frame::VideoConfig(Bytes::from_static(&[1, 0x64])))
        );
        let audio_config = audio(0, &Bytes::from_static(&[0xaf, 0, 0x12, 0x10])).unwrap();
        assert_eq!(
            audio_config,
            Some(Frame::AudioConfig(Bytes::from_static(&[0x12, 0x10])))
        );
    }

    #[test]
    fn garbage_is_a_clear_error_not_a_panic() {
        assert_eq!(
            video(0, &Bytes::new()),
            Err(FlvError::Truncated("video tag"))
        );
        assert_eq!(
            video(0, &Bytes::from_static(&[0x12, 1])),
            Err(FlvError::VideoCodec(2))
        );
        assert_eq!(
            video(0, &Bytes::from_static(&[0x17, 1, 0])),
            Err(FlvError::Truncated("AVC packet header"))
        );
        assert_eq!(
            audio(0, &Bytes::from_static(&[0x2f, 1])),
            Err(FlvError::AudioFormat(2))
        );
        assert_eq!(
            file_tags(&Bytes::from_static(b"GIF89a.......")),
            Err(FlvError::NotFlv)
        );
    }

    #[test]
    fn end_of_sequence_and_empty_packets_carry_no_frame() {
        assert_eq!(video(0, &Bytes::from_static(&[0x17, 2, 0, 0, 0])), Ok(None));
        assert_eq!(audio(0, &Bytes::from_static(&[0xaf, 1])), Ok(None));
    }
}
