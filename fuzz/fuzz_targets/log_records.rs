//! What a process reads back from the log: decisions, media events, viewer activity. A record
//! written by another version, or corrupted, is refused or skipped, never a panic; what
//! decodes encodes again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sigma_shared::audience::ViewerActivity;
use sigma_shared::event::Decision;
use sigma_shared::media::MediaEvent;

fuzz_target!(|data: &[u8]| {
    if let Ok(decision) = Decision::from_bytes(data) {
        assert!(Decision::from_bytes(&decision.to_bytes()).is_ok());
    }
    if let Some(event) = MediaEvent::from_bytes(data) {
        assert!(MediaEvent::from_bytes(&event.to_bytes()).is_some());
    }
    if let Ok(activity) = ViewerActivity::from_bytes(data) {
        assert!(ViewerActivity::from_bytes(&activity.to_bytes()).is_ok());
    }
});
