//! The RTMP server. Bytes from the network reach rml_rtmp only through bounded code:
//!
//! - [`gate`] caps the connections open at once, in the process and per remote address;
//! - [`chunk`] reads the chunk stream into messages within [`chunk::ChunkLimits`], and
//!   [`amf0`] decodes commands with a nesting limit; [`guard`] joins them and hands rml_rtmp
//!   the messages in a canonical form;
//! - [`connection`] runs one client: handshake, session, admission, media, each step with a
//!   deadline from [`RtmpLimits`], and a publisher's bitrate under the [`ceiling`].
//!
//! Every refusal and drop is reported once per connection through [`Admission::dropped`].

pub mod amf0;
pub mod ceiling;
pub mod chunk;
mod connection;
pub mod gate;
pub mod guard;
mod limits;

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

pub use self::limits::RtmpLimits;
use crate::ingest::Admission;
use connection::Connection;
use gate::Gate;

/// How long accepting pauses after it fails (out of file descriptors, say), so the loop does
/// not spin while the cause lasts.
const ACCEPT_RETRY_PAUSE: Duration = Duration::from_millis(50);

/// Accepts connections forever.
pub async fn serve(listener: TcpListener, admission: Arc<dyn Admission>, limits: RtmpLimits) {
    let gate = Gate::new(limits.max_connections, limits.max_connections_per_address);
    loop {
        let (socket, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "rtmp accept failed");
                tokio::time::sleep(ACCEPT_RETRY_PAUSE).await;
                continue;
            }
        };
        let pass = match gate.enter(peer.ip()) {
            Ok(pass) => pass,
            Err(refusal) => {
                tracing::info!(%peer, %refusal, "rtmp connection refused");
                admission.dropped(refusal.code());
                continue;
            }
        };
        let admission = admission.clone();
        tokio::spawn(async move {
            let _pass = pass;
            let _ = socket.set_nodelay(true);
            let mut connection = Connection::new(socket, admission, limits);
            let outcome = connection.run().await;
            connection.end(&outcome).await;
            match outcome {
                Ok(()) => tracing::info!(%peer, "rtmp connection closed"),
                Err(error) => {
                    tracing::info!(%peer, %error, "rtmp connection dropped");
                    connection.admission.dropped(&error.reason());
                }
            }
        });
    }
}
