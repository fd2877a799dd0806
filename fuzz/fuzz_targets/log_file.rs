//! The embedded log's partition file as it may be found on disk after a crash or a bad disk:
//! opening keeps the whole frames and cuts the rest, every record it indexed reads back, and
//! opening again finds the same. Most inputs have their frames' CRCs set right first, so the
//! fuzzer reaches past the checksum into the record's fields.
#![no_main]

use std::path::PathBuf;

use libfuzzer_sys::fuzz_target;
use sigma_event_log::embedded::file::PartitionFile;

/// Writes the right CRC-32 into every frame whose body lies within `bytes`.
fn set_checksums(bytes: &mut [u8]) {
    let mut at = 0usize;
    while let Some(header) = bytes.get(at..at + 8) {
        let body_len = u32::from_le_bytes(header[0..4].try_into().unwrap()) as usize;
        let Some(body) = bytes.get(at + 8..at + 8 + body_len) else {
            return;
        };
        let crc = crc32fast::hash(body);
        bytes[at + 4..at + 8].copy_from_slice(&crc.to_le_bytes());
        at += 8 + body_len;
    }
}

fn path() -> PathBuf {
    std::env::temp_dir().join(format!("sigma-fuzz-log-{}.log", std::process::id()))
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut bytes = rest.to_vec();
    if mode % 4 != 0 {
        set_checksums(&mut bytes);
    }
    let path = path();
    std::fs::write(&path, &bytes).unwrap();
    let file = PartitionFile::open(&path, 0).unwrap();
    let records = file.read(0, file.records(), usize::MAX).unwrap();
    assert_eq!(records.len() as u64, file.records());
    assert!(std::fs::metadata(&path).unwrap().len() <= bytes.len() as u64);
    drop(file);
    let again = PartitionFile::open(&path, 0).unwrap();
    assert_eq!(again.records(), records.len() as u64);
    std::fs::remove_file(&path).unwrap();
});
