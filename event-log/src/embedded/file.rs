//! The on-disk form of one partition: an append-only file of framed records.
//!
//! Frame: `u32 body length | u32 CRC-32 of the body | body`, body: `i64 timestamp ms | u32 key
//! length | key | payload`, little-endian. A crash can leave a torn frame at the end; opening the
//! file keeps every whole frame and cuts the rest, so an acknowledged (fsynced) record is never
//! lost and a half-written one never surfaces.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

use sigma_shared::log::{LogError, Partition, Record};

const HEADER: usize = 8;
/// Larger frames are refused on write and treated as corruption on read.
pub const MAX_RECORD_BYTES: usize = 16 * 1024 * 1024;

/// A partition's file and where each of its records starts: the records stay on disk (the
/// page cache keeps the recent ones at hand), so memory holds 8 bytes per record, not the
/// record.
pub struct PartitionFile {
    file: File,
    partition: Partition,
    /// The byte position of every record's frame, by offset.
    positions: Vec<u64>,
    /// Where the next frame goes.
    end: u64,
    /// A failed append left bytes past `end` that could not be cut.
    poisoned: bool,
}

impl PartitionFile {
    /// Opens (or creates) the file and indexes the records it holds, reading it once from
    /// start to end.
    pub fn open(path: &Path, partition: Partition) -> Result<Self, LogError> {
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)?;
        let size = file.metadata()?.len();
        let (positions, whole) = index_all(BufReader::new(&file))?;
        if whole < size {
            tracing::warn!(path = %path.display(), kept = whole, dropped = size - whole, "cut a torn record at the end of the log");
            file.set_len(whole)?;
            file.seek(SeekFrom::End(0))?;
        }
        Ok(Self {
            file,
            partition,
            positions,
            end: whole,
            poisoned: false,
        })
    }

    /// How many records the partition holds.
    pub fn records(&self) -> u64 {
        self.positions.len() as u64
    }

    /// Writes one record and waits until it is on disk; returns its offset.
    pub fn append(
        &mut self,
        timestamp_ms: i64,
        key: &str,
        payload: &[u8],
    ) -> Result<u64, LogError> {
        let frame = encode(timestamp_ms, key, payload)?;
        if self.poisoned {
            return Err(LogError::Io(std::io::Error::other(
                "an earlier failed append could not be undone; reopen the log",
            )));
        }
        if let Err(error) = self
            .file
            .write_all(&frame)
            .and_then(|()| self.file.sync_data())
        {
            // A full disk can take half a frame (or a whole one that was never acknowledged):
            // cut it, or the next append would land behind it, where no reader looks, and a
            // reopen would cut it with everything after. If even that fails, no more appends.
            if self
                .file
                .set_len(self.end)
                .and_then(|()| self.file.sync_data())
                .is_err()
            {
                self.poisoned = true;
            }
            return Err(error.into());
        }
        self.positions.push(self.end);
        self.end += frame.len() as u64;
        Ok(self.positions.len() as u64 - 1)
    }

    /// Records `[from, until)`, at most `max` of them, read from the file.
    pub fn read(&self, from: u64, until: u64, max: usize) -> Result<Vec<Record>, LogError> {
        let end = until.min(self.records());
        let start = from.min(end);
        let end = end.min(start.saturating_add(max as u64));
        (start..end).map(|offset| self.read_one(offset)).collect()
    }

    /// The first offset whose record was stamped at or after `timestamp_ms` (the length if
    /// none was): a binary search that reads one stamp per step, as stamps only grow (they are
    /// taken under the partition's lock; a clock stepped back makes the answer approximate).
    pub fn offset_at(&self, timestamp_ms: i64) -> Result<u64, LogError> {
        let (mut low, mut high) = (0u64, self.records());
        while low < high {
            let middle = low + (high - low) / 2;
            if self.stamp(middle)? < timestamp_ms {
                low = middle + 1;
            } else {
                high = middle;
            }
        }
        Ok(low)
    }

    /// The stamp of the record at `offset` (the first 8 bytes of its body).
    fn stamp(&self, offset: u64) -> Result<i64, LogError> {
        let mut stamp = [0u8; 8];
        self.file
            .read_exact_at(&mut stamp, self.positions[offset as usize] + HEADER as u64)?;
        Ok(i64::from_le_bytes(stamp))
    }

    fn read_one(&self, offset: u64) -> Result<Record, LogError> {
        let at = self.positions[offset as usize];
        let mut header = [0u8; HEADER];
        self.file.read_exact_at(&mut header, at)?;
        let body_len = u32::from_le_bytes(header[0..4].try_into().expect("4 bytes")) as usize;
        let mut frame = vec![0u8; HEADER + body_len.min(MAX_RECORD_BYTES)];
        self.file.read_exact_at(&mut frame, at)?;
        decode_one(&frame, 0, self.partition, offset)
            .map(|(record, _)| record)
            .ok_or_else(|| {
                LogError::Io(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "record {offset} of partition {} changed on disk",
                        self.partition
                    ),
                ))
            })
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

/// The positions of the whole frames `reader` holds from its start, and how many bytes they
/// span (a torn or corrupt frame ends the log there).
fn index_all(mut reader: impl Read) -> Result<(Vec<u64>, u64), LogError> {
    let mut positions = Vec::new();
    let mut at = 0u64;
    let mut frame = Vec::new();
    loop {
        let mut header = [0u8; HEADER];
        if !read_full(&mut reader, &mut header)? {
            return Ok((positions, at));
        }
        let body_len = u32::from_le_bytes(header[0..4].try_into().expect("4 bytes")) as usize;
        if !(12..=MAX_RECORD_BYTES).contains(&body_len) {
            return Ok((positions, at));
        }
        frame.clear();
        frame.extend_from_slice(&header);
        frame.resize(HEADER + body_len, 0);
        if !read_full(&mut reader, &mut frame[HEADER..])? {
            return Ok((positions, at));
        }
        if decode_one(&frame, 0, 0, 0).is_none() {
            return Ok((positions, at));
        }
        positions.push(at);
        at += frame.len() as u64;
    }
}

/// Fills `buffer`; false if the input ended first.
fn read_full(reader: &mut impl Read, buffer: &mut [u8]) -> Result<bool, LogError> {
    let mut filled = 0;
    while filled < buffer.len() {
        match reader.read(&mut buffer[filled..]) {
            Ok(0) => return Ok(false),
            Ok(read) => filled += read,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error.into()),
        }
    }
    Ok(true)
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
            let mut file = PartitionFile::open(&path, 0).unwrap();
            assert_eq!(file.records(), 0);
            file.append(1, "a", b"one").unwrap();
            file.append(2, "b", b"two").unwrap();
        }
        // A crash mid-write: half a frame at the end.
        let frame = encode(3, "c", b"three").unwrap();
        let mut raw = OpenOptions::new().append(true).open(&path).unwrap();
        raw.write_all(&frame[..frame.len() / 2]).unwrap();
        drop(raw);

        let mut file = PartitionFile::open(&path, 0).unwrap();
        let records = file.read(0, u64::MAX, 10).unwrap();
        assert_eq!(
            records
                .iter()
                .map(|r| r.payload.as_slice())
                .collect::<Vec<_>>(),
            [b"one".as_slice(), b"two"]
        );
        assert_eq!(file.append(4, "d", b"four").unwrap(), 2);
        drop(file);
        let file = PartitionFile::open(&path, 0).unwrap();
        let records = file.read(0, u64::MAX, 10).unwrap();
        assert_eq!(records.len(), 3);
        assert_eq!(records[2].offset, 2);
        assert_eq!(records[2].key, "d");
    }

    #[test]
    fn a_flipped_bit_stops_the_read_there() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.log");
        let mut file = PartitionFile::open(&path, 0).unwrap();
        file.append(1, "a", b"one").unwrap();
        drop(file);
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&path, bytes).unwrap();
        assert_eq!(PartitionFile::open(&path, 0).unwrap().records(), 0);
    }
}
