//! A raw RTMP client for tests that misbehave on purpose: the handshake and a publish done by
//! rml_rtmp's client session, then whatever bytes a test wants to send, chunked by hand.

use std::time::{Duration, Instant};

use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use rml_rtmp::sessions::{
    ClientSession, ClientSessionConfig, ClientSessionEvent, ClientSessionResult, PublishRequestType,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The chunk size [`ClientSessionConfig`] announces, which [`message`] must then use.
pub const PUBLISHER_CHUNK_SIZE: u32 = 4096;

/// Connects and completes the handshake; returns the socket and what the server sent after it.
pub async fn handshake(address: &str) -> (TcpStream, Vec<u8>) {
    let mut socket = TcpStream::connect(address).await.expect("connecting");
    let mut handshake = Handshake::new(PeerType::Client);
    let hello = handshake.generate_outbound_p0_and_p1().expect("c0 and c1");
    socket.write_all(&hello).await.expect("sending c0 and c1");
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let read = socket.read(&mut buffer).await.expect("reading s0, s1, s2");
        assert!(read > 0, "the server closed during the handshake");
        match handshake
            .process_bytes(&buffer[..read])
            .expect("a valid handshake")
        {
            HandshakeProcessResult::InProgress { response_bytes } => {
                socket.write_all(&response_bytes).await.expect("sending c2")
            }
            HandshakeProcessResult::Completed {
                response_bytes,
                remaining_bytes,
            } => {
                socket.write_all(&response_bytes).await.expect("sending c2");
                return (socket, remaining_bytes);
            }
        }
    }
}

/// Writes out what the client session wants sent; returns the events it raised.
async fn send(
    socket: &mut TcpStream,
    results: Vec<ClientSessionResult>,
) -> Vec<ClientSessionEvent> {
    let mut events = Vec::new();
    for result in results {
        match result {
            ClientSessionResult::OutboundResponse(packet) => {
                socket.write_all(&packet.bytes).await.expect("sending")
            }
            ClientSessionResult::RaisedEvent(event) => events.push(event),
            ClientSessionResult::UnhandleableMessageReceived(_) => {}
        }
    }
    events
}

/// Connects to application `live`, then (with `publish_key`) publishes; returns once the
/// server accepted the last request, with the chunk size the client announced in force.
pub async fn connect(address: &str, publish_key: Option<&str>) -> TcpStream {
    let (mut socket, leftover) = handshake(address).await;
    let (mut session, results) =
        ClientSession::new(ClientSessionConfig::new()).expect("a client session");
    send(&mut socket, results).await;
    let connect = session.request_connection("live".into()).expect("connect");
    send(&mut socket, vec![connect]).await;
    let mut events = send(&mut socket, session.handle_input(&leftover).expect("input")).await;
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        for event in events.drain(..) {
            match event {
                ClientSessionEvent::ConnectionRequestAccepted => {
                    let Some(key) = publish_key else {
                        return socket;
                    };
                    let publish = session
                        .request_publishing(key.into(), PublishRequestType::Live)
                        .expect("publish");
                    send(&mut socket, vec![publish]).await;
                }
                ClientSessionEvent::PublishRequestAccepted => return socket,
                ClientSessionEvent::ConnectionRequestRejected { description } => {
                    panic!("connect refused: {description}")
                }
                _ => {}
            }
        }
        let read = socket.read(&mut buffer).await.expect("reading");
        assert!(read > 0, "the server closed before accepting the request");
        events = send(
            &mut socket,
            session.handle_input(&buffer[..read]).expect("input"),
        )
        .await;
    }
}

/// One message in chunks of `chunk_size`: a full header on chunk stream `csid`, then
/// continuation chunks.
pub fn message(csid: u8, type_id: u8, stream_id: u32, payload: &[u8], chunk_size: u32) -> Vec<u8> {
    message_with_length(
        csid,
        type_id,
        stream_id,
        payload.len() as u32,
        payload,
        chunk_size,
    )
}

/// Like [`message`], but declaring `length` whatever the payload holds (a lie, or the start
/// of a message whose rest never comes).
pub fn message_with_length(
    csid: u8,
    type_id: u8,
    stream_id: u32,
    length: u32,
    payload: &[u8],
    chunk_size: u32,
) -> Vec<u8> {
    let mut bytes = vec![csid & 0x3f, 0, 0, 0];
    bytes.extend_from_slice(&length.to_be_bytes()[1..]);
    bytes.push(type_id);
    bytes.extend_from_slice(&stream_id.to_le_bytes());
    for (index, chunk) in payload.chunks(chunk_size as usize).enumerate() {
        if index > 0 {
            bytes.push(0xc0 | (csid & 0x3f));
        }
        bytes.extend_from_slice(chunk);
    }
    bytes
}

/// A Set Chunk Size message, as sent at the default chunk size.
pub fn set_chunk_size(size: u32) -> Vec<u8> {
    message(2, 1, 0, &size.to_be_bytes(), 128)
}

/// Reads (and discards) until the server closes the connection; how long that took, or
/// `None` if it was still open after `limit`.
pub async fn closed_within(socket: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buffer = vec![0u8; 16 * 1024];
    tokio::time::timeout(limit, async {
        while matches!(socket.read(&mut buffer).await, Ok(read) if read > 0) {}
    })
    .await
    .ok()
    .map(|()| started.elapsed())
}
