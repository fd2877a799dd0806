//! A streaming reader of fragmented MP4 (what ffmpeg writes to its stdout with `empty_moov`):
//! bytes in as they arrive, media frames of each track out, in the same form the FLV parser
//! gives ([`Frame`]), so the ladder's renditions go through the same packager as the source.
//! Pure: no I/O, no clocks.

use bytes::{Buf, Bytes, BytesMut};
use mp4_atom::{Atom, Codec, Header, Moof, Moov, ReadFrom};

use crate::flv::Frame;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DemuxError {
    #[error("malformed {0} box: {1}")]
    Malformed(&'static str, String),
    #[error("a movie fragment before the movie header")]
    FragmentBeforeMoov,
    #[error("track {0} is neither H.264 nor AAC")]
    Codec(u32),
    #[error("a sample lies outside its media data")]
    SampleOutOfBounds,
}

/// What a track of the stream is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackInfo {
    pub id: u32,
    pub video: bool,
    timescale: u32,
    default_duration: u32,
    default_size: u32,
    default_flags: u32,
}

/// A frame of one track.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackFrame {
    pub track: u32,
    pub frame: Frame,
}

/// ISO 14496-12 §8.8.3.1: `sample_is_non_sync_sample`.
const NON_SYNC: u32 = 0x0001_0000;
/// Largest box accepted: a fragment of a few frames is far smaller.
const MAX_BOX: usize = 64 * 1024 * 1024;

#[derive(Default)]
pub struct Demuxer {
    buffer: BytesMut,
    tracks: Vec<TrackInfo>,
    /// A `moof` waiting for its `mdat`, with the moof box's whole length.
    fragment: Option<(Moof, usize)>,
}

impl Demuxer {
    pub fn tracks(&self) -> &[TrackInfo] {
        &self.tracks
    }

    /// Takes more bytes; returns every frame they completed: each track's configuration first
    /// (when the movie header arrives), then samples in stream order.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<TrackFrame>, DemuxError> {
        self.buffer.extend_from_slice(bytes);
        let mut frames = Vec::new();
        while let Some((header, header_len, body)) = self.next_box()? {
            match header.kind.as_ref() {
                b"moov" => frames.extend(self.movie(&body)?),
                b"moof" => {
                    if self.tracks.is_empty() {
                        return Err(DemuxError::FragmentBeforeMoov);
                    }
                    let moof = Moof::decode_body(&mut &body[..])
                        .map_err(|error| DemuxError::Malformed("moof", error.to_string()))?;
                    self.fragment = Some((moof, header_len + body.len()));
                }
                b"mdat" => {
                    if let Some((moof, moof_len)) = self.fragment.take() {
                        // Offsets in `trun` count from the first byte of the moof box; the
                        // mdat's payload follows the moof and the mdat's own header.
                        frames.extend(self.samples(&moof, moof_len + header_len, &body)?);
                    }
                }
                _ => {} // ftyp, free, sidx, …
            }
        }
        Ok(frames)
    }

    /// The next complete box, with its header's length, if the buffer holds one.
    fn next_box(&mut self) -> Result<Option<(Header, usize, Bytes)>, DemuxError> {
        if self.buffer.len() < 8 {
            return Ok(None);
        }
        let mut peek = &self.buffer[..];
        let header = match <Option<Header> as ReadFrom>::read_from(&mut peek) {
            Ok(Some(header)) => header,
            Ok(None) => return Ok(None),
            Err(error) => return Err(DemuxError::Malformed("box header", error.to_string())),
        };
        let header_len = self.buffer.len() - peek.len();
        let size = header
            .size
            .ok_or_else(|| DemuxError::Malformed("box header", "open-ended box".into()))?;
        if size > MAX_BOX {
            return Err(DemuxError::Malformed("box header", format!("{size} bytes")));
        }
        if self.buffer.len() < header_len + size {
            return Ok(None);
        }
        self.buffer.advance(header_len);
        Ok(Some((
            header,
            header_len,
            self.buffer.split_to(size).freeze(),
        )))
    }

    fn movie(&mut self, body: &[u8]) -> Result<Vec<TrackFrame>, DemuxError> {
        let moov = Moov::decode_body(&mut &body[..])
            .map_err(|error| DemuxError::Malformed("moov", error.to_string()))?;
        let defaults = |id: u32| {
            moov.mvex
                .as_ref()
                .and_then(|mvex| mvex.trex.iter().find(|trex| trex.track_id == id))
                .map_or((0, 0, 0), |trex| {
                    (
                        trex.default_sample_duration,
                        trex.default_sample_size,
                        trex.default_sample_flags,
                    )
                })
        };
        let mut configs = Vec::new();
        self.tracks.clear();
        for trak in &moov.trak {
            let id = trak.tkhd.track_id;
            let codec = trak.mdia.minf.stbl.stsd.codecs.first();
            let (video, frame) = match codec {
                Some(Codec::Avc1(avc1)) => {
                    let mut record = Vec::new();
                    avc1.avcc
                        .encode_body(&mut record)
                        .map_err(|error| DemuxError::Malformed("avcC", error.to_string()))?;
                    (true, Frame::VideoConfig(record.into()))
                }
                Some(Codec::Mp4a(mp4a)) => {
                    let config = mp4a
                        .esds
                        .es_desc
                        .dec_config
                        .dec_specific
                        .as_ref()
                        .map(|specific| specific.raw.clone())
                        .filter(|raw| !raw.is_empty())
                        .ok_or(DemuxError::Codec(id))?;
                    (false, Frame::AudioConfig(config.into()))
                }
                _ => return Err(DemuxError::Codec(id)),
            };
            let (default_duration, default_size, default_flags) = defaults(id);
            self.tracks.push(TrackInfo {
                id,
                video,
                timescale: trak.mdia.mdhd.timescale.max(1),
                default_duration,
                default_size,
                default_flags,
            });
            configs.push(TrackFrame { track: id, frame });
        }
        Ok(configs)
    }

    fn samples(
        &self,
        moof: &Moof,
        payload_start: usize,
        mdat: &Bytes,
    ) -> Result<Vec<TrackFrame>, DemuxError> {
        let mut frames = Vec::new();
        for traf in &moof.traf {
            let Some(track) = self.tracks.iter().find(|t| t.id == traf.tfhd.track_id) else {
                continue;
            };
            let duration = traf
                .tfhd
                .default_sample_duration
                .unwrap_or(track.default_duration);
            let size = traf.tfhd.default_sample_size.unwrap_or(track.default_size);
            let flags = traf
                .tfhd
                .default_sample_flags
                .unwrap_or(track.default_flags);
            let mut decode_time = traf.tfdt.as_ref().map_or(0, |t| t.base_media_decode_time);
            for trun in &traf.trun {
                let mut offset = trun.data_offset.unwrap_or(payload_start as i32) as usize;
                for entry in trun.samples.iter() {
                    let sample_size = entry.size.unwrap_or(size) as usize;
                    let start = offset
                        .checked_sub(payload_start)
                        .ok_or(DemuxError::SampleOutOfBounds)?;
                    let end = start
                        .checked_add(sample_size)
                        .ok_or(DemuxError::SampleOutOfBounds)?;
                    let data = mdat.get(start..end).ok_or(DemuxError::SampleOutOfBounds)?;
                    let ms = |ticks: i64| {
                        (ticks as f64 * 1000.0 / f64::from(track.timescale)).round() as i64
                    };
                    let dts = ms(decode_time as i64);
                    let frame = if track.video {
                        Frame::Video {
                            dts,
                            composition_offset: ms(entry.cts.unwrap_or(0)) as i32,
                            keyframe: entry.flags.unwrap_or(flags) & NON_SYNC == 0,
                            data: mdat.slice(start..start + data.len()),
                        }
                    } else {
                        Frame::Audio {
                            dts,
                            data: mdat.slice(start..start + data.len()),
                        }
                    };
                    frames.push(TrackFrame {
                        track: track.id,
                        frame,
                    });
                    offset = end + payload_start;
                    decode_time = decode_time
                        .checked_add(u64::from(entry.duration.unwrap_or(duration)))
                        .ok_or_else(|| {
                            DemuxError::Malformed("trun", "the decode time overflows".into())
                        })?;
                }
            }
        }
        Ok(frames)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut out = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn boxes_split_anywhere_wait_for_their_end() {
        let mut demuxer = Demuxer::default();
        let stream = [boxed(b"ftyp", b"isom\0\0\0\0"), boxed(b"free", &[0; 100])].concat();
        for byte in &stream {
            assert_eq!(demuxer.push(std::slice::from_ref(byte)), Ok(Vec::new()));
        }
        assert!(demuxer.buffer.is_empty(), "both boxes consumed");
    }

    #[test]
    fn garbage_and_out_of_order_boxes_are_errors() {
        let too_short = [0, 0, 0, 4, b'f', b'r', b'e', b'e'];
        assert!(matches!(
            Demuxer::default().push(&too_short),
            Err(DemuxError::Malformed("box header", _))
        ));
        assert_eq!(
            Demuxer::default().push(&boxed(b"moof", &[])),
            Err(DemuxError::FragmentBeforeMoov)
        );
        assert!(matches!(
            Demuxer::default().push(&boxed(b"moov", &[1, 2, 3])),
            Err(DemuxError::Malformed("moov", _))
        ));
    }
}
