//! One CMAF chunk: `moof` + `mdat` holding a run of samples per track.

use bytes::Bytes;
use mp4_atom::{Encode, Mdat, Mfhd, Moof, Tfdt, Tfhd, Traf, Trun, TrunEntry, TrunSamples};

use super::PackageError;

/// `sample_depends_on = 2`: a sync sample, decodable alone.
const SYNC_FLAGS: u32 = 0x0200_0000;
/// `sample_depends_on = 1`, `sample_is_non_sync_sample = 1`.
const NON_SYNC_FLAGS: u32 = 0x0101_0000;

/// One sample, in its track's timescale.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sample {
    pub dts: u64,
    pub duration: u32,
    pub composition_offset: i32,
    pub sync: bool,
    pub data: Bytes,
}

/// Encodes a `moof` + `mdat` with each track's samples (tracks with no samples are left out).
pub fn fragment(sequence_number: u32, tracks: &[(u32, &[Sample])]) -> Result<Bytes, PackageError> {
    let tracks: Vec<&(u32, &[Sample])> = tracks
        .iter()
        .filter(|(_, samples)| !samples.is_empty())
        .collect();
    let build = |offsets: &[i32]| Moof {
        mfhd: Mfhd { sequence_number },
        traf: tracks
            .iter()
            .zip(offsets)
            .map(|((track_id, samples), offset)| Traf {
                tfhd: Tfhd {
                    track_id: *track_id,
                    default_base_is_moof: true,
                    ..Default::default()
                },
                tfdt: Some(Tfdt {
                    base_media_decode_time: samples[0].dts,
                }),
                trun: vec![Trun {
                    data_offset: Some(*offset),
                    samples: TrunSamples::Explicit(
                        samples
                            .iter()
                            .map(|sample| TrunEntry {
                                duration: Some(sample.duration),
                                size: Some(sample.data.len() as u32),
                                flags: Some(if sample.sync {
                                    SYNC_FLAGS
                                } else {
                                    NON_SYNC_FLAGS
                                }),
                                cts: Some(i64::from(sample.composition_offset)),
                            })
                            .collect(),
                    ),
                }],
                ..Default::default()
            })
            .collect(),
    };
    // The data offsets depend on the moof's size, which does not depend on their values.
    let mut probe = Vec::new();
    build(&vec![0; tracks.len()])
        .encode(&mut probe)
        .map_err(PackageError::encode)?;
    let mut offsets = Vec::with_capacity(tracks.len());
    let mut at = probe.len() + 8;
    for (_, samples) in &tracks {
        offsets.push(at as i32);
        at += samples
            .iter()
            .map(|sample| sample.data.len())
            .sum::<usize>();
    }
    let mut data = Vec::with_capacity(at);
    for (_, samples) in &tracks {
        for sample in samples.iter() {
            data.extend_from_slice(&sample.data);
        }
    }
    let mut out = Vec::with_capacity(at + 8);
    build(&offsets)
        .encode(&mut out)
        .map_err(PackageError::encode)?;
    Mdat { data }
        .encode(&mut out)
        .map_err(PackageError::encode)?;
    Ok(out.into())
}
