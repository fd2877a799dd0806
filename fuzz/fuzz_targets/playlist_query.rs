//! A playlist request's query string, as a player (or anyone) sends it: it reads or is refused,
//! and what it reads is consistent (no `_HLS_part` without `_HLS_msn`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sigma_shared::request::playlist::PlaylistQuery;

fuzz_target!(|query: &str| {
    if let Ok(parsed) = PlaylistQuery::parse(query) {
        if let Some(pb) = &parsed.pb {
            assert!(pb.len() <= query.len());
        }
    }
});
