//! Every byte a client sends passes through here before rml_rtmp sees it. rml_rtmp's chunk
//! reader trusts declared lengths (it reserves them, and a length that shrinks mid-message
//! underflows) and its AMF0 decoder recurses without limit; so the guard reads the chunk
//! stream with the bounded [`ChunkReader`] and AMF0 with the bounded [`amf0`] decoder, then
//! hands rml_rtmp the same messages in a canonical form it cannot misread: each message one
//! chunk with a full header and an absolute timestamp, AMF0 re-encoded by rml_amf0 from the
//! values decoded here. rml_rtmp keeps what it is good at: the session's replies.
//!
//! It passes rml_rtmp only what rml_rtmp can take without panicking or growing: commands
//! shaped `[name, transaction id, object, …]`, a bounded number of `createStream`s, no `play`
//! (this server takes publishers only) and no metadata (codec configurations come with the
//! media; rml_rtmp indexes `@setDataFrame`'s values without checking they are there).

use rml_rtmp::rml_amf0::{self, Amf0Value};

use super::amf0::{self, Amf0Error};
use super::chunk::{types, ChunkError, ChunkLimits, ChunkReader, Message};

/// The longest AMF0 message (command or metadata) accepted at any time: `connect`,
/// `publish` and `onMetaData` are well under 4 KiB.
pub const MAX_AMF0_MESSAGE_BYTES: u32 = 64 * 1024;
/// Chunk streams one connection may use; encoders use 3 to 6.
pub const MAX_CHUNK_STREAMS: usize = 16;
/// What rml_rtmp is told the chunk size is: larger than any message, so each is one chunk.
const CANONICAL_CHUNK_SIZE: u32 = 0x0100_0000;
/// The chunk stream every canonical message travels on.
const CANONICAL_CSID: u8 = 3;
/// rml_rtmp counts received bytes towards an acknowledgement in a `u32`; a window past this
/// could overflow it.
const MAX_WINDOW_ACK_SIZE: u32 = 1 << 31;
/// `createStream`s one connection may ask for; a publisher needs one. rml_rtmp keeps each.
pub const MAX_STREAMS: usize = 4;
/// The largest capacity the canonical output keeps between reads.
const KEPT_OUTPUT_CAPACITY: usize = 256 * 1024;
/// The largest message length a chunk header can say.
const MAX_MESSAGE_LENGTH: usize = 0x00ff_ffff;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GuardError {
    #[error(transparent)]
    Chunk(#[from] ChunkError),
    #[error("an AMF0 message of {0} bytes is over the limit of {MAX_AMF0_MESSAGE_BYTES}")]
    Amf0TooLarge(usize),
    #[error("AMF0: {0}")]
    Amf0(#[from] Amf0Error),
    #[error("a command is not [name, transaction id, object, ...]")]
    MalformedCommand,
    #[error("command {0:?} is not served here (publish only)")]
    UnsupportedCommand(String),
    #[error("more than {MAX_STREAMS} createStream commands")]
    TooManyStreams,
}

impl GuardError {
    /// A stable label for metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Chunk(error) => error.code(),
            Self::Amf0TooLarge(_) => "message_too_large",
            Self::Amf0(Amf0Error::TooDeep) => "amf0_too_deep",
            Self::Amf0(Amf0Error::TooMany) => "message_too_large",
            Self::TooManyStreams => "too_many_streams",
            Self::UnsupportedCommand(_) => "unsupported_command",
            Self::Amf0(_) | Self::MalformedCommand => "protocol",
        }
    }
}

/// One connection's input, from the wire to what rml_rtmp may read.
pub struct InputGuard {
    reader: ChunkReader,
    /// Canonical bytes of the last [`InputGuard::sanitize`].
    output: Vec<u8>,
    /// Whether rml_rtmp has been told the canonical chunk size.
    announced: bool,
    /// `createStream` commands passed so far.
    streams_created: usize,
}

impl InputGuard {
    /// A guard for a client nobody has admitted: only messages the size of commands.
    pub fn anonymous() -> Self {
        Self {
            reader: ChunkReader::new(ChunkLimits {
                max_message_bytes: MAX_AMF0_MESSAGE_BYTES,
                max_buffered_bytes: MAX_AMF0_MESSAGE_BYTES,
                max_chunk_streams: MAX_CHUNK_STREAMS,
            }),
            output: Vec::new(),
            announced: false,
            streams_created: 0,
        }
    }

    /// The client was admitted to publish: media messages up to `max_message_bytes`, and
    /// room for one of them plus another in progress.
    pub fn admitted(&mut self, max_message_bytes: u32) {
        self.reader.set_limits(ChunkLimits {
            max_message_bytes,
            max_buffered_bytes: max_message_bytes.saturating_mul(2),
            max_chunk_streams: MAX_CHUNK_STREAMS,
        });
    }

    /// The canonical form of every message `input` completes.
    pub fn sanitize(&mut self, input: &[u8]) -> Result<&[u8], GuardError> {
        self.output.clear();
        // A keyframe's worth is not kept for the rest of the connection.
        if self.output.capacity() > KEPT_OUTPUT_CAPACITY {
            self.output = Vec::new();
        }
        if !self.announced {
            self.announced = true;
            let size = CANONICAL_CHUNK_SIZE.to_be_bytes();
            write_message(&mut self.output, types::SET_CHUNK_SIZE, 0, 0, &size);
        }
        self.reader.feed(input);
        while let Some(message) = self.reader.next_message()? {
            self.canonical(message)?;
        }
        Ok(&self.output)
    }

    /// Appends what rml_rtmp should read for `message`, if anything.
    fn canonical(&mut self, message: Message) -> Result<(), GuardError> {
        let output = &mut self.output;
        let Message {
            timestamp,
            type_id,
            stream_id,
            payload,
        } = message;
        match type_id {
            types::ACKNOWLEDGEMENT
            | types::USER_CONTROL
            | types::SET_PEER_BANDWIDTH
            | types::AUDIO
            | types::VIDEO => write_message(output, type_id, stream_id, timestamp, &payload),
            types::WINDOW_ACK_SIZE => {
                let size = payload
                    .first_chunk()
                    .map_or(0, |bytes| u32::from_be_bytes(*bytes));
                let size = size.min(MAX_WINDOW_ACK_SIZE).to_be_bytes();
                write_message(output, type_id, stream_id, timestamp, &size);
            }
            types::AMF0_COMMAND | types::AMF3_COMMAND => {
                // An "AMF3" command from Flash-era clients is AMF0 after a zero byte.
                let body = match (type_id, payload.first()) {
                    (types::AMF3_COMMAND, Some(0)) => &payload[1..],
                    _ => &payload[..],
                };
                let values = decode_command(body)?;
                if let Some(Amf0Value::Utf8String(name)) = values.first() {
                    match name.as_str() {
                        "play" | "play2" => {
                            return Err(GuardError::UnsupportedCommand(name.clone()))
                        }
                        "createStream" if self.streams_created == MAX_STREAMS => {
                            return Err(GuardError::TooManyStreams)
                        }
                        "createStream" => self.streams_created += 1,
                        _ => {}
                    }
                }
                // The values came from strings with 16-bit lengths, so they encode again.
                let encoded = rml_amf0::serialize(&values).map_err(|_| Amf0Error::Truncated)?;
                write_message(output, types::AMF0_COMMAND, stream_id, timestamp, &encoded);
            }
            // Metadata (unused: codec configurations come with the media), aggregates, shared
            // objects and unknown types.
            _ => {}
        }
        Ok(())
    }
}

/// A command's values, decoded with the bounded decoder, in the shape rml_rtmp needs.
fn decode_command(payload: &[u8]) -> Result<Vec<Amf0Value>, GuardError> {
    if payload.len() > MAX_AMF0_MESSAGE_BYTES as usize {
        return Err(GuardError::Amf0TooLarge(payload.len()));
    }
    let values = amf0::decode(payload)?;
    match &values[..] {
        [Amf0Value::Utf8String(_), Amf0Value::Number(_), _, ..] => Ok(values),
        _ => Err(GuardError::MalformedCommand),
    }
}

/// One message as one chunk: a full (type 0) header, then the payload.
fn write_message(
    output: &mut Vec<u8>,
    type_id: u8,
    stream_id: u32,
    timestamp: u32,
    payload: &[u8],
) {
    assert!(
        payload.len() <= MAX_MESSAGE_LENGTH,
        "a message's length has 24 bits"
    );
    let length = payload.len() as u32;
    let field = timestamp.min(0x00ff_ffff);
    output.push(CANONICAL_CSID);
    output.extend_from_slice(&field.to_be_bytes()[1..]);
    output.extend_from_slice(&length.to_be_bytes()[1..]);
    output.push(type_id);
    output.extend_from_slice(&stream_id.to_le_bytes());
    if field == 0x00ff_ffff {
        output.extend_from_slice(&timestamp.to_be_bytes());
    }
    output.extend_from_slice(payload);
}

#[cfg(test)]
mod tests {
    use rml_rtmp::sessions::{
        ClientSession, ClientSessionConfig, ClientSessionResult, PublishRequestType, ServerSession,
        ServerSessionConfig, ServerSessionEvent, ServerSessionResult,
    };

    use std::collections::VecDeque;

    use super::*;

    fn client_bytes(results: Vec<ClientSessionResult>) -> Vec<u8> {
        results
            .into_iter()
            .filter_map(|result| match result {
                ClientSessionResult::OutboundResponse(packet) => Some(packet.bytes),
                _ => None,
            })
            .flatten()
            .collect()
    }

    /// Sends `wire` through the guard to the server (which accepts every request) and the
    /// server's replies back to the client, until the client has nothing more to say; returns
    /// the server's events.
    fn exchange(
        guard: &mut InputGuard,
        server: &mut ServerSession,
        client: &mut ClientSession,
        mut wire: Vec<u8>,
    ) -> Vec<String> {
        let mut events = Vec::new();
        while !wire.is_empty() {
            let sanitized = guard.sanitize(&wire).unwrap();
            let mut queue = VecDeque::from(server.handle_input(sanitized).unwrap());
            let mut replies = Vec::new();
            while let Some(result) = queue.pop_front() {
                let ServerSessionResult::RaisedEvent(event) = result else {
                    if let ServerSessionResult::OutboundResponse(packet) = result {
                        replies.extend(packet.bytes);
                    }
                    continue;
                };
                events.push(format!("{event:?}"));
                if let ServerSessionEvent::ConnectionRequested { request_id, .. }
                | ServerSessionEvent::PublishStreamRequested { request_id, .. } = event
                {
                    queue.extend(server.accept_request(request_id).unwrap());
                }
            }
            wire = client_bytes(client.handle_input(&replies).unwrap());
        }
        events
    }

    #[test]
    fn an_rml_rtmp_client_connects_and_publishes_through_the_guard() {
        let (mut server, greeting) = ServerSession::new(ServerSessionConfig::new()).unwrap();
        let (mut client, results) = ClientSession::new(ClientSessionConfig::new()).unwrap();
        for result in greeting {
            if let ServerSessionResult::OutboundResponse(packet) = result {
                client.handle_input(&packet.bytes).unwrap();
            }
        }
        let mut guard = InputGuard::anonymous();
        let mut wire = client_bytes(results);
        wire.extend(client_bytes(vec![client
            .request_connection("live".into())
            .unwrap()]));
        let events = exchange(&mut guard, &mut server, &mut client, wire);
        assert!(events[0].contains("ConnectionRequested"), "{events:?}");
        let publish = client
            .request_publishing("sk_key".into(), PublishRequestType::Live)
            .unwrap();
        let events = exchange(
            &mut guard,
            &mut server,
            &mut client,
            client_bytes(vec![publish]),
        );
        assert!(
            events
                .iter()
                .any(|event| event.contains("PublishStreamRequested")
                    && event.contains("\"sk_key\"")),
            "{events:?}"
        );
    }

    #[test]
    fn a_deeply_nested_connect_is_refused_before_rml_rtmp_reads_it() {
        let mut command = rml_amf0::serialize(&vec![
            rml_amf0::Amf0Value::Utf8String("connect".into()),
            rml_amf0::Amf0Value::Number(1.0),
        ])
        .unwrap();
        for _ in 0..10_000 {
            command.extend_from_slice(&[0x03, 0, 1, b'a']);
        }
        let mut wire = Vec::new();
        // One chunk per message: announce a chunk size that holds it.
        write_message(
            &mut wire,
            types::SET_CHUNK_SIZE,
            0,
            0,
            &65536u32.to_be_bytes(),
        );
        write_message(&mut wire, types::AMF0_COMMAND, 0, 0, &command);
        assert_eq!(
            InputGuard::anonymous().sanitize(&wire).err(),
            Some(GuardError::Amf0(Amf0Error::TooDeep))
        );
    }

    #[test]
    fn before_admission_only_command_sized_messages_pass() {
        let mut wire = Vec::new();
        write_message(&mut wire, types::VIDEO, 1, 0, &[0; 100]);
        let mut guard = InputGuard::anonymous();
        assert!(guard.sanitize(&wire).is_ok());
        let mut large = Vec::new();
        write_message(
            &mut large,
            types::SET_CHUNK_SIZE,
            0,
            0,
            &(1u32 << 20).to_be_bytes(),
        );
        write_message(&mut large, types::VIDEO, 1, 0, &vec![0; 100_000]);
        assert_eq!(
            guard.sanitize(&large).unwrap_err().code(),
            "message_too_large"
        );
        let mut guard = InputGuard::anonymous();
        guard.admitted(1 << 20);
        assert!(guard.sanitize(&large).is_ok());
    }
}
