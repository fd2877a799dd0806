//! The on-disk form of one partition: an append-only file of framed records.
//!
//! Frame: `u32 body length | u32 CRC-32 of the body | body`, body: `i64 timestamp ms | u32 key
//! length | key | payload`, little-endian. A crash can leave a torn frame at the end; opening the
//! file keeps every whole frame and cuts the rest, so an acknowledged (fsynced) record is never
//! lost and a half-written one never surfaces.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use sigma_shared::log::{LogError, Partition, Record};

const HEADER: usize = 8;
/// Larger frames are refused on write and treated as corruption on read.
pub const MAX_RECORD_BYTES: usize = 16 * 1024 * 1024;

pub struct PartitionFile {
    file: File,
}

impl PartitionFile {
    /// Opens (or creates) the file and returns the records it holds.
    pub fn open(path: &Path, partition: Partition) -> Result<(Self, Vec<Record>), LogError> {
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        let (records, whole) = decode_all(&bytes, partition);
        if whole < bytes.len() {
            tracing::warn!(path = %path.display(), kept = whole, dropped = bytes.len() - whole, "cut a torn record at the end of the log");
            file.set_len(whole as u64)?;
            file.seek(SeekFrom::End(0))?;
        }
        Ok((Self { file }, records))
    }

    /// Writes one record and waits until it is on disk.
    pub fn append(&mut self, timestamp_ms: i64, key: &str, payload: &[u8]) -> Result<(), LogError> {
        let frame = encode(timestamp_ms, key, payload)?;
        self.file.write_all(&frame)?;
        self.file.sync_data()?;
        Ok(())
    }
}

fn encode(timestamp_ms: i64, key: &str, payload: &[u8]) -> Result<Vec<u8>, LogError> {
    let body_len = 8 + 4 + key.len() + payload.len();
    if body_len > MAX_RECORD_BYTES {
        return Err(LogError::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("a record of {body_len} bytes exceeds the limit of {MAX_RECORD_BYTES}"),
        )));
    }
    let mut frame = Vec::with_capacity(HEADER + body_len);
    frame.extend_from_slice(&(body_len as u32).to_le_bytes());
    frame.extend_from_slice(&[0; 4]);
    frame.extend_from_slice(&timestamp_ms.to_le_bytes());
    frame.extend_from_slice(&(key.len() as u32).to_le_bytes());
    frame.extend_from_slice(key.as_bytes());
    frame.extend_from_slice(payload);
    let crc = crc32fast::hash(&frame[HEADER..]);
    frame[4..8].copy_from_slice(&crc.to_le_bytes());
    Ok(frame)
}

/// Decodes whole frames; returns them and how many bytes they span.
fn decode_all(bytes: &[u8], partition: Partition) -> (Vec<Record>, usize) {
    let mut records = Vec::new();
    let mut at = 0;
    while let Some((record, next)) = decode_one(bytes, at, partition, records.len() as u64) {
        records.push(record);
        at = next;
    }
    (records, at)
}

fn decode_one(
    bytes: &[u8],
    at: usize,
    partition: Partition,
    offset: u64,
) -> Option<(Record, usize)> {
    let header = bytes.get(at..at + HEADER)?;
    let body_len = u32::from_le_bytes(header[0..4].try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(header[4..8].try_into().ok()?);
    if !(12..=MAX_RECORD_BYTES).contains(&body_len) {
        return None;
    }
    let body = bytes.get(at + HEADER..at + HEADER + body_len)?;
    if crc32fast::hash(body) != crc {
        return None;
    }
    let timestamp_ms = i64::from_le_bytes(body[0..8].try_into().ok()?);
    let key_len = u32::from_le_bytes(body[8..12].try_into().ok()?) as usize;
    let key = std::str::from_utf8(body.get(12..12 + key_len)?)
        .ok()?
        .to_owned();
    let payload = body[12 + key_len..].to_vec();
    Some((
        Record {
            partition,
            offset,
            key,
            payload,
            timestamp_ms,
        },
        at + HEADER + body_len,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_tail_is_cut_and_whole_records_survive() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.log");
        {
            let (mut file, records) = PartitionFile::open(&path, 0).unwrap();
            assert!(records.is_empty());
            file.append(1, "a", b"one").unwrap();
            file.append(2, "b", b"two").unwrap();
        }
        // A crash mid-write: half a frame at the end.
        let frame = encode(3, "c", b"three").unwrap();
        let mut raw = OpenOptions::new().append(true).open(&path).unwrap();
        raw.write_all(&frame[..frame.len() / 2]).unwrap();
        drop(raw);

        let (mut file, records) = PartitionFile::open(&path, 0).unwrap();
        assert_eq!(
            records
                .iter()
                .map(|r| r.payload.as_slice())
                .collect::<Vec<_>>(),
            [b"one".as_slice(), b"two"]
        );
        file.append(4, "d", b"four").unwrap();
        drop(file);
        let (_, records) = PartitionFile::open(&path, 0).unwrap();
        assert_eq!(records.len(), 3);
        assert_eq!(records[2].offset, 2);
        assert_eq!(records[2].key, "d");
    }

    #[test]
    fn a_flipped_bit_stops_the_read_there() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.log");
        let (mut file, _) = PartitionFile::open(&path, 0).unwrap();
        file.append(1, "a", b"one").unwrap();
        drop(file);
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&path, bytes).unwrap();
        let (_, records) = PartitionFile::open(&path, 0).unwrap();
        assert!(records.is_empty());
    }
}
