//! The CMAF header (init segment): `ftyp` + `moov` with one track per elementary stream and
//! `mvex`, so every following fragment is self-describing.

use bytes::Bytes;
use mp4_atom::{
    Audio, Avc1, Avcc, Codec, Dinf, Dref, Encode, Esds, Ftyp, Hdlr, Mdhd, Mdia, Minf, Moov, Mp4a,
    Mvex, Mvhd, Smhd, Stbl, Stco, Stsc, Stsd, Stsz, Stts, Tkhd, Trak, Trex, Url, Visual, Vmhd,
};

use super::PackageError;
use crate::h264;

pub const VIDEO_TRACK: u32 = 1;
pub const AUDIO_TRACK: u32 = 2;
/// 90 kHz, the MPEG convention: every common frame rate has whole-tick frame durations.
pub const VIDEO_TIMESCALE: u32 = 90_000;

/// What the init segment says about the video track.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VideoTrack {
    pub avcc: Avcc,
    pub width: u32,
    pub height: u32,
}

/// What the init segment says about the audio track.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AudioTrack {
    pub config: Bytes,
    pub sample_rate: u32,
    pub channels: u16,
    object_type: u8,
    frequency_index: u8,
}

const SAMPLE_RATES: [u32; 13] = [
    96_000, 88_200, 64_000, 48_000, 44_100, 32_000, 24_000, 22_050, 16_000, 12_000, 11_025, 8_000,
    7_350,
];

impl VideoTrack {
    /// From an AVCDecoderConfigurationRecord.
    pub fn from_config(record: &Bytes) -> Result<Self, PackageError> {
        let avcc = <Avcc as mp4_atom::Atom>::decode_body(&mut &record[..]).map_err(|error| {
            PackageError::BadConfig(format!("AVC decoder configuration: {error}"))
        })?;
        let sps = avcc
            .sequence_parameter_sets
            .first()
            .ok_or_else(|| PackageError::BadConfig("no SPS".into()))?;
        let (width, height) = h264::picture_size(sps)
            .ok_or_else(|| PackageError::BadConfig("unreadable SPS".into()))?;
        Ok(Self {
            avcc,
            width,
            height,
        })
    }

    /// `avc1.PPCCLL`, for the playlists' `CODECS`.
    pub fn codec(&self) -> String {
        format!(
            "avc1.{:02x}{:02x}{:02x}",
            self.avcc.avc_profile_indication,
            self.avcc.profile_compatibility,
            self.avcc.avc_level_indication
        )
    }
}

impl AudioTrack {
    /// From an AudioSpecificConfig.
    pub fn from_config(config: &Bytes) -> Result<Self, PackageError> {
        if config.len() < 2 {
            return Err(PackageError::BadConfig(
                "AudioSpecificConfig shorter than 2 bytes".into(),
            ));
        }
        let object_type = config[0] >> 3;
        let frequency_index = ((config[0] & 0x07) << 1) | (config[1] >> 7);
        let channels = u16::from((config[1] >> 3) & 0x0f);
        let sample_rate = *SAMPLE_RATES
            .get(usize::from(frequency_index))
            .ok_or_else(|| {
                PackageError::BadConfig(format!("AAC frequency index {frequency_index}"))
            })?;
        if channels == 0 {
            return Err(PackageError::BadConfig(
                "AAC channel configuration 0 is not supported".into(),
            ));
        }
        Ok(Self {
            config: config.clone(),
            sample_rate,
            channels,
            object_type,
            frequency_index,
        })
    }

    /// `mp4a.40.N`, for the playlists' `CODECS`.
    pub fn codec(&self) -> String {
        format!("mp4a.40.{}", self.object_type)
    }
}

fn trak(
    track_id: u32,
    timescale: u32,
    handler: &[u8; 4],
    codec: Codec,
    video: Option<(u32, u32)>,
) -> Trak {
    let (vmhd, smhd) = if video.is_some() {
        (Some(Vmhd::default()), None)
    } else {
        (None, Some(Smhd::default()))
    };
    let (width, height) = video.unwrap_or((0, 0));
    Trak {
        tkhd: Tkhd {
            track_id,
            enabled: true,
            in_movie: true,
            volume: if video.is_some() { 0.into() } else { 1.into() },
            width: (width as u16).into(),
            height: (height as u16).into(),
            ..Default::default()
        },
        mdia: Mdia {
            mdhd: Mdhd {
                timescale,
                language: "und".into(),
                ..Default::default()
            },
            hdlr: Hdlr {
                handler: (*handler).into(),
                name: "Sigma Live".into(),
            },
            minf: Minf {
                vmhd,
                smhd,
                dinf: Dinf {
                    dref: Dref {
                        entries: vec![Url {
                            location: String::new(),
                        }
                        .into()],
                    },
                },
                stbl: Stbl {
                    stsd: Stsd {
                        codecs: vec![codec],
                    },
                    stts: Stts::default(),
                    stsc: Stsc::default(),
                    stsz: Stsz::default(),
                    stco: Some(Stco::default()),
                    ..Default::default()
                },
                ..Default::default()
            },
        },
        ..Default::default()
    }
}

/// The video track: H.264 (`avc1`) with the publisher's decoder configuration.
fn video_trak(video: &VideoTrack) -> Trak {
    let codec = Avc1 {
        visual: Visual {
            data_reference_index: 1,
            width: video.width as u16,
            height: video.height as u16,
            ..Default::default()
        },
        avcc: video.avcc.clone(),
        btrt: None,
        colr: None,
        pasp: None,
        taic: None,
        fiel: None,
        spatial: Default::default(),
    };
    trak(
        VIDEO_TRACK,
        VIDEO_TIMESCALE,
        b"vide",
        codec.into(),
        Some((video.width, video.height)),
    )
}

/// The audio track: AAC (`mp4a`) with the publisher's AudioSpecificConfig, in the sample rate's
/// timescale.
fn audio_trak(audio: &AudioTrack) -> Trak {
    let esds = Esds {
        es_desc: mp4_atom::esds::EsDescriptor {
            es_id: AUDIO_TRACK as u16,
            dec_config: mp4_atom::esds::DecoderConfig {
                object_type_indication: 0x40,
                stream_type: 5,
                dec_specific: Some(mp4_atom::esds::DecoderSpecific {
                    profile: audio.object_type,
                    freq_index: audio.frequency_index,
                    chan_conf: audio.channels as u8,
                    raw: audio.config.to_vec(),
                }),
                ..Default::default()
            },
            ..Default::default()
        },
    };
    let codec = Mp4a {
        audio: Audio {
            data_reference_index: 1,
            channel_count: audio.channels,
            sample_size: 16,
            sample_rate: (audio.sample_rate.min(65_535) as u16).into(),
        },
        esds,
        btrt: None,
        taic: None,
    };
    trak(AUDIO_TRACK, audio.sample_rate, b"soun", codec.into(), None)
}

/// The init segment for the given tracks.
pub fn init_segment(
    video: Option<&VideoTrack>,
    audio: Option<&AudioTrack>,
) -> Result<Bytes, PackageError> {
    let traks: Vec<Trak> = video
        .map(video_trak)
        .into_iter()
        .chain(audio.map(audio_trak))
        .collect();
    if traks.is_empty() {
        return Err(PackageError::NoTracks);
    }
    let trex = traks
        .iter()
        .map(|trak| Trex {
            track_id: trak.tkhd.track_id,
            default_sample_description_index: 1,
            ..Default::default()
        })
        .collect();
    let moov = Moov {
        mvhd: Mvhd {
            timescale: 1000,
            rate: 1.into(),
            volume: 1.into(),
            next_track_id: AUDIO_TRACK + 1,
            ..Default::default()
        },
        mvex: Some(Mvex {
            trex,
            ..Default::default()
        }),
        trak: traks,
        ..Default::default()
    };
    let ftyp = Ftyp {
        major_brand: b"iso6".into(),
        minor_version: 0,
        compatible_brands: vec![b"iso6".into(), b"cmfc".into(), b"mp41".into()],
    };
    let mut out = Vec::new();
    ftyp.encode(&mut out).map_err(PackageError::encode)?;
    moov.encode(&mut out).map_err(PackageError::encode)?;
    Ok(out.into())
}
