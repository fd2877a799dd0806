//! What a client sends after the handshake, through the guard into rml_rtmp's server session,
//! as the RTMP server runs it: never a panic, whatever the session makes of it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rml_rtmp::handshake::{Handshake, PeerType};
use rml_rtmp::sessions::{
    ServerSession, ServerSessionConfig, ServerSessionEvent, ServerSessionResult,
};
use sigma_edge_worker::rtmp::guard::InputGuard;

fuzz_target!(|data: &[u8]| {
    // The first bytes go to the handshake, as the server's would.
    let (handshake_bytes, session_bytes) = data.split_at(data.len().min(3073));
    let mut handshake = Handshake::new(PeerType::Server);
    let _ = handshake.process_bytes(handshake_bytes);

    let (mut session, _) = ServerSession::new(ServerSessionConfig::new()).expect("a session");
    let mut guard = InputGuard::anonymous();
    for piece in session_bytes.chunks(1000) {
        let Ok(canonical) = guard.sanitize(piece) else {
            return;
        };
        let Ok(results) = session.handle_input(canonical) else {
            return;
        };
        for result in results {
            if let ServerSessionResult::RaisedEvent(
                ServerSessionEvent::ConnectionRequested { request_id, .. }
                | ServerSessionEvent::PublishStreamRequested { request_id, .. },
            ) = result
            {
                if session.accept_request(request_id).is_err() {
                    return;
                }
                guard.admitted(1 << 20);
            }
        }
    }
});
