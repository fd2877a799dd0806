//! The chunk reader and the guard on any bytes, fed in pieces whose sizes the input picks:
//! never a panic, and never more held than the limits allow.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sigma_edge_worker::rtmp::guard::InputGuard;

fuzz_target!(|data: &[u8]| {
    let Some((&admit_at, mut rest)) = data.split_first() else {
        return;
    };
    let mut guard = InputGuard::anonymous();
    let mut fed = 0usize;
    while !rest.is_empty() {
        let (&size, tail) = rest.split_first().expect("not empty");
        let (piece, tail) = tail.split_at(usize::from(size).min(tail.len()));
        rest = tail;
        if fed >= usize::from(admit_at) * 16 {
            guard.admitted(1 << 20);
        }
        fed += piece.len();
        if guard.sanitize(piece).is_err() {
            return;
        }
    }
});
