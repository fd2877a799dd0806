//! The RTMP chunk stream (RTMP spec §5.3) → whole messages, with every buffer bounded by
//! [`ChunkLimits`], before anything else reads a byte. A message's payload is copied as its
//! bytes arrive, so the chunk size a client declares costs nothing; what a client can make us
//! hold is the sum of the lengths it declares for messages in progress, and that is capped
//! when each message starts — not when its bytes arrive — so a slow client cannot creep past it.
//!
//! Protocol control messages that change how chunks are read (Set Chunk Size, Abort) are
//! applied here and not returned.

use std::collections::HashMap;

use bytes::{Buf, Bytes, BytesMut};

/// Message type ids (RTMP spec §5.4, §7.1).
pub mod types {
    pub const SET_CHUNK_SIZE: u8 = 1;
    pub const ABORT: u8 = 2;
    pub const ACKNOWLEDGEMENT: u8 = 3;
    pub const USER_CONTROL: u8 = 4;
    pub const WINDOW_ACK_SIZE: u8 = 5;
    pub const SET_PEER_BANDWIDTH: u8 = 6;
    pub const AUDIO: u8 = 8;
    pub const VIDEO: u8 = 9;
    pub const AMF3_DATA: u8 = 15;
    pub const AMF3_COMMAND: u8 = 17;
    pub const AMF0_DATA: u8 = 18;
    pub const AMF0_COMMAND: u8 = 20;
}

/// A timestamp field of all ones says a 4-byte extended timestamp follows.
const EXTENDED_TIMESTAMP: u32 = 0x00ff_ffff;

/// What one connection's chunk stream may make the server hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkLimits {
    /// The longest message accepted (a video keyframe is the largest a publisher sends).
    pub max_message_bytes: u32,
    /// The sum of the declared lengths of messages in progress, over all chunk streams.
    pub max_buffered_bytes: u32,
    /// How many chunk stream ids one connection may use (encoders use 3 to 6).
    pub max_chunk_streams: usize,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChunkError {
    #[error("a message of {length} bytes is over the limit of {limit}")]
    MessageTooLarge { length: u32, limit: u32 },
    #[error("messages in progress would hold {wanted} bytes, over the limit of {limit}")]
    BufferedTooMuch { wanted: u64, limit: u32 },
    #[error("more than {0} chunk streams")]
    TooManyChunkStreams(usize),
    #[error("chunk stream {0} continues a message header it never sent")]
    NoPreviousHeader(u32),
    #[error("chunk stream {0} starts a new message before its last one ended")]
    InterruptedMessage(u32),
    #[error("invalid chunk size {0} (1 to 2^31-1)")]
    InvalidChunkSize(u32),
    #[error("a protocol control message of {0} bytes is too short")]
    ShortControlMessage(usize),
}

impl ChunkError {
    /// A stable label for metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MessageTooLarge { .. } | Self::BufferedTooMuch { .. } => "message_too_large",
            Self::TooManyChunkStreams(_) => "too_many_chunk_streams",
            _ => "protocol",
        }
    }
}

/// One whole RTMP message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Milliseconds, absolute (deltas applied), wrapping at 2^32 as the spec says.
    pub timestamp: u32,
    pub type_id: u8,
    pub stream_id: u32,
    pub payload: Bytes,
}

/// What the last header on a chunk stream said, which later headers on it leave out.
#[derive(Debug, Default)]
struct ChunkStream {
    timestamp: u32,
    /// The last timestamp field (absolute for type 0, a delta otherwise), applied again by a
    /// type 3 chunk that starts a message, as FFmpeg and librtmp do.
    timestamp_field: u32,
    /// Whether that field was extended: type 3 chunks then carry 4 more bytes.
    extended: bool,
    length: u32,
    type_id: u8,
    stream_id: u32,
    /// The message in progress; empty between messages.
    partial: Option<BytesMut>,
}

enum Stage {
    Header,
    /// Reading a chunk's payload: `remaining` more bytes belong to chunk stream `csid`.
    Payload {
        csid: u32,
        remaining: u32,
    },
}

/// Reads one connection's chunk stream. Feed it bytes, then take messages until it has none.
pub struct ChunkReader {
    limits: ChunkLimits,
    chunk_size: u32,
    streams: HashMap<u32, ChunkStream>,
    /// Declared lengths of the messages in progress.
    committed: u64,
    /// Bytes fed and not yet read: at most a partial header plus the last read.
    input: BytesMut,
    stage: Stage,
}

impl ChunkReader {
    pub fn new(limits: ChunkLimits) -> Self {
        Self {
            limits,
            // RTMP spec §5.4.1: 128 until the peer says otherwise.
            chunk_size: 128,
            streams: HashMap::new(),
            committed: 0,
            input: BytesMut::new(),
            stage: Stage::Header,
        }
    }

    /// Changes the limits for messages that start from now on (a publisher, once admitted,
    /// may send larger ones than an anonymous client).
    pub fn set_limits(&mut self, limits: ChunkLimits) {
        self.limits = limits;
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        self.input.extend_from_slice(bytes);
    }

    /// The next whole message, `None` when the bytes fed so far hold no more.
    pub fn next_message(&mut self) -> Result<Option<Message>, ChunkError> {
        loop {
            let (csid, remaining) = match self.stage {
                Stage::Header => match self.read_header()? {
                    Some(chunk) => chunk,
                    None => return Ok(None),
                },
                Stage::Payload { csid, remaining } => (csid, remaining),
            };
            let take = self.input.len().min(remaining as usize);
            let bytes = self.input.split_to(take);
            if let Some(partial) = self.partial_mut(csid) {
                partial.extend_from_slice(&bytes);
            }
            let remaining = remaining - take as u32;
            if remaining > 0 {
                self.stage = Stage::Payload { csid, remaining };
                return Ok(None);
            }
            self.stage = Stage::Header;
            if let Some(message) = self.take_if_whole(csid)? {
                return Ok(Some(message));
            }
        }
    }

    fn partial_mut(&mut self, csid: u32) -> Option<&mut BytesMut> {
        self.streams.get_mut(&csid)?.partial.as_mut()
    }

    /// Parses one chunk header if it is all there; returns its chunk stream id and how many
    /// payload bytes the chunk carries.
    fn read_header(&mut self) -> Result<Option<(u32, u32)>, ChunkError> {
        let mut cursor = &self.input[..];
        let Some(mut parsed) = parse_header(&mut cursor) else {
            return Ok(None);
        };
        let csid = parsed.csid;
        let known = self.streams.get(&csid).map(|stream| stream.extended);
        if parsed.format == 3 && known == Some(true) {
            let Some(bytes) = take::<4>(&mut cursor) else {
                return Ok(None);
            };
            parsed.type3_extended = Some(u32::from_be_bytes(bytes));
        }
        let consumed = self.input.len() - cursor.len();
        self.input.advance(consumed);
        if known.is_none() {
            if parsed.format != 0 {
                return Err(ChunkError::NoPreviousHeader(csid));
            }
            if self.streams.len() >= self.limits.max_chunk_streams {
                return Err(ChunkError::TooManyChunkStreams(
                    self.limits.max_chunk_streams,
                ));
            }
        }
        let stream = self.streams.entry(csid).or_default();
        let in_progress = stream.partial.is_some();
        if in_progress && parsed.format != 3 {
            return Err(ChunkError::InterruptedMessage(csid));
        }
        if !in_progress {
            start_message(stream, &parsed);
            let length = stream.length;
            if length > self.limits.max_message_bytes {
                return Err(ChunkError::MessageTooLarge {
                    length,
                    limit: self.limits.max_message_bytes,
                });
            }
            let wanted = self.committed + u64::from(length);
            if wanted > u64::from(self.limits.max_buffered_bytes) {
                return Err(ChunkError::BufferedTooMuch {
                    wanted,
                    limit: self.limits.max_buffered_bytes,
                });
            }
            self.committed = wanted;
            stream.partial = Some(BytesMut::with_capacity(length as usize));
        }
        let received = stream.partial.as_ref().map_or(0, BytesMut::len) as u32;
        let remaining = (stream.length - received).min(self.chunk_size);
        Ok(Some((csid, remaining)))
    }

    /// Takes chunk stream `csid`'s message if it is whole, applying the control messages that
    /// are ours to apply; `None` while it is not whole or when it was such a control message.
    fn take_if_whole(&mut self, csid: u32) -> Result<Option<Message>, ChunkError> {
        let Some(stream) = self.streams.get_mut(&csid) else {
            return Ok(None);
        };
        let Some(partial) = stream
            .partial
            .take_if(|partial| partial.len() == stream.length as usize)
        else {
            return Ok(None);
        };
        let payload = partial.freeze();
        self.committed -= u64::from(stream.length);
        let message = Message {
            timestamp: stream.timestamp,
            type_id: stream.type_id,
            stream_id: stream.stream_id,
            payload,
        };
        match message.type_id {
            types::SET_CHUNK_SIZE => {
                let size = control_value(&message.payload)?;
                if size == 0 || size > 0x7fff_ffff {
                    return Err(ChunkError::InvalidChunkSize(size));
                }
                self.chunk_size = size;
                Ok(None)
            }
            types::ABORT => {
                let aborted = control_value(&message.payload)?;
                if let Some(stream) = self.streams.get_mut(&aborted) {
                    if stream.partial.take().is_some() {
                        self.committed -= u64::from(stream.length);
                    }
                }
                Ok(None)
            }
            _ => Ok(Some(message)),
        }
    }
}

/// A chunk header as sent: which fields it has depends on its format (0 to 3).
struct Header {
    format: u8,
    csid: u32,
    /// Absolute (format 0) or a delta (1, 2); the extended value when the field was all ones.
    timestamp_field: Option<u32>,
    extended: bool,
    length: Option<u32>,
    type_id: Option<u8>,
    stream_id: Option<u32>,
    /// The 4 bytes a format 3 chunk carries after an extended timestamp.
    type3_extended: Option<u32>,
}

/// Parses a header from the front of `input`, advancing past it; `None` if it is incomplete.
/// Whether a format 3 header has an extended timestamp depends on its chunk stream, so the
/// caller reads that.
fn parse_header(input: &mut &[u8]) -> Option<Header> {
    let first = take_u8(input)?;
    let format = first >> 6;
    let csid = match first & 0x3f {
        0 => 64 + u32::from(take_u8(input)?),
        1 => {
            let low = take_u8(input)?;
            let high = take_u8(input)?;
            64 + u32::from(low) + 256 * u32::from(high)
        }
        csid => u32::from(csid),
    };
    let mut header = Header {
        format,
        csid,
        timestamp_field: None,
        extended: false,
        length: None,
        type_id: None,
        stream_id: None,
        type3_extended: None,
    };
    if format <= 2 {
        let field = take_u24(input)?;
        if format <= 1 {
            header.length = Some(take_u24(input)?);
            header.type_id = Some(take_u8(input)?);
        }
        if format == 0 {
            header.stream_id = Some(u32::from_le_bytes(take::<4>(input)?));
        }
        header.extended = field == EXTENDED_TIMESTAMP;
        header.timestamp_field = Some(if header.extended {
            u32::from_be_bytes(take::<4>(input)?)
        } else {
            field
        });
    }
    Some(header)
}

/// Applies a header that starts a message to its chunk stream.
fn start_message(stream: &mut ChunkStream, header: &Header) {
    if let Some(length) = header.length {
        stream.length = length;
    }
    if let Some(type_id) = header.type_id {
        stream.type_id = type_id;
    }
    if let Some(stream_id) = header.stream_id {
        stream.stream_id = stream_id;
    }
    match header.timestamp_field {
        Some(field) => {
            stream.timestamp = if header.format == 0 {
                field
            } else {
                stream.timestamp.wrapping_add(field)
            };
            stream.timestamp_field = field;
            stream.extended = header.extended;
        }
        None => {
            let delta = header.type3_extended.unwrap_or(stream.timestamp_field);
            stream.timestamp = stream.timestamp.wrapping_add(delta);
        }
    }
}

fn control_value(payload: &[u8]) -> Result<u32, ChunkError> {
    let bytes: [u8; 4] = payload
        .get(..4)
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or(ChunkError::ShortControlMessage(payload.len()))?;
    Ok(u32::from_be_bytes(bytes))
}

fn take<const N: usize>(input: &mut &[u8]) -> Option<[u8; N]> {
    let (bytes, rest) = input.split_first_chunk::<N>()?;
    *input = rest;
    Some(*bytes)
}

fn take_u8(input: &mut &[u8]) -> Option<u8> {
    take::<1>(input).map(|[byte]| byte)
}

fn take_u24(input: &mut &[u8]) -> Option<u32> {
    take::<3>(input).map(|[a, b, c]| u32::from_be_bytes([0, a, b, c]))
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use proptest::prelude::*;
    use rml_rtmp::chunk_io::ChunkSerializer;
    use rml_rtmp::messages::MessagePayload;
    use rml_rtmp::time::RtmpTimestamp;

    use super::*;

    const LIMITS: ChunkLimits = ChunkLimits {
        max_message_bytes: 64 * 1024,
        max_buffered_bytes: 96 * 1024,
        max_chunk_streams: 8,
    };

    fn read_all(reader: &mut ChunkReader, bytes: &[u8]) -> Result<Vec<Message>, ChunkError> {
        reader.feed(bytes);
        let mut messages = Vec::new();
        while let Some(message) = reader.next_message()? {
            messages.push(message);
        }
        Ok(messages)
    }

    /// A chunk with a full header.
    fn type0(csid: u8, timestamp: u32, length: u32, type_id: u8, payload: &[u8]) -> Vec<u8> {
        let mut bytes = vec![csid];
        bytes.extend_from_slice(&timestamp.min(0xff_ffff).to_be_bytes()[1..]);
        bytes.extend_from_slice(&length.to_be_bytes()[1..]);
        bytes.push(type_id);
        bytes.extend_from_slice(&1u32.to_le_bytes());
        if timestamp >= 0xff_ffff {
            bytes.extend_from_slice(&timestamp.to_be_bytes());
        }
        bytes.extend_from_slice(payload);
        bytes
    }

    fn set_chunk_size(size: u32) -> Vec<u8> {
        type0(2, 0, 4, types::SET_CHUNK_SIZE, &size.to_be_bytes())
    }

    fn payloads() -> impl Strategy<Value = Vec<(u8, u32, Vec<u8>)>> {
        prop::collection::vec(
            (
                prop::sample::select(vec![types::AUDIO, types::VIDEO, types::AMF0_DATA]),
                0u32..0x0200_0000,
                // rml_rtmp writes no chunk at all for an empty payload.
                prop::collection::vec(any::<u8>(), 1..3000),
            ),
            1..12,
        )
    }

    proptest! {
        /// What rml_rtmp's serializer writes, at any chunk size and split into reads anywhere,
        /// reads back as the same messages.
        #[test]
        fn what_rml_rtmp_writes_reads_back_whole(
            messages in payloads(),
            chunk_size in prop::sample::select(vec![128u32, 1000, 4096, 65536]),
            cuts in prop::collection::vec(1usize..5000, 0..20),
        ) {
            let mut serializer = ChunkSerializer::new();
            let mut wire = Vec::new();
            if chunk_size != 128 {
                wire.extend(serializer.set_max_chunk_size(chunk_size, RtmpTimestamp::new(0)).unwrap().bytes);
            }
            let mut clock = 0u32;
            let mut expected = Vec::new();
            for (type_id, step, data) in &messages {
                clock = clock.wrapping_add(*step);
                let payload = MessagePayload {
                    timestamp: RtmpTimestamp::new(clock),
                    type_id: *type_id,
                    message_stream_id: 1,
                    data: Bytes::from(data.clone()),
                };
                wire.extend(serializer.serialize(&payload, false, false).unwrap().bytes);
                expected.push(Message {
                    timestamp: clock,
                    type_id: *type_id,
                    stream_id: 1,
                    payload: Bytes::from(data.clone()),
                });
            }
            let mut reader = ChunkReader::new(LIMITS);
            let mut read = Vec::new();
            let mut rest = &wire[..];
            for cut in cuts {
                let (now, later) = rest.split_at(cut.min(rest.len()));
                read.extend(read_all(&mut reader, now).unwrap());
                rest = later;
            }
            read.extend(read_all(&mut reader, rest).unwrap());
            prop_assert_eq!(read, expected);
        }

        /// Any bytes at all: no panic, and never more held than the limits allow.
        #[test]
        fn any_input_stays_within_the_limits(input in prop::collection::vec(any::<u8>(), 0..4096)) {
            let mut reader = ChunkReader::new(LIMITS);
            for piece in input.chunks(97) {
                if read_all(&mut reader, piece).is_err() {
                    break;
                }
                prop_assert!(reader.committed <= u64::from(LIMITS.max_buffered_bytes));
                prop_assert!(reader.streams.len() <= LIMITS.max_chunk_streams);
            }
        }
    }

    #[test]
    fn an_empty_message_is_whole_at_its_header() {
        let mut reader = ChunkReader::new(LIMITS);
        let mut wire = type0(4, 7, 0, types::AUDIO, &[]);
        wire.extend(type0(4, 8, 1, types::AUDIO, &[5]));
        let messages = read_all(&mut reader, &wire).unwrap();
        assert_eq!(messages.len(), 2);
        assert!(messages[0].payload.is_empty());
        assert_eq!(&messages[1].payload[..], &[5]);
    }

    #[test]
    fn chunks_of_two_streams_interleave() {
        let mut reader = ChunkReader::new(LIMITS);
        let video = [9u8; 200];
        let audio = [8u8; 150];
        let mut wire = type0(6, 40, 200, types::VIDEO, &video[..128]);
        wire.extend(type0(4, 41, 150, types::AUDIO, &audio[..128]));
        wire.push(0xc0 | 6);
        wire.extend_from_slice(&video[128..]);
        wire.push(0xc0 | 4);
        wire.extend_from_slice(&audio[128..]);
        let messages = read_all(&mut reader, &wire).unwrap();
        assert_eq!(messages.len(), 2);
        assert_eq!(
            (messages[0].type_id, messages[0].timestamp),
            (types::VIDEO, 40)
        );
        assert_eq!(&messages[0].payload[..], &video[..]);
        assert_eq!(
            (messages[1].type_id, messages[1].timestamp),
            (types::AUDIO, 41)
        );
        assert_eq!(&messages[1].payload[..], &audio[..]);
        assert_eq!(reader.committed, 0);
    }

    #[test]
    fn a_huge_chunk_size_then_a_huge_message_is_refused_at_its_header() {
        let mut reader = ChunkReader::new(LIMITS);
        let mut wire = set_chunk_size(0x7fff_ffff);
        wire.extend(type0(3, 0, 0x00ff_ffff, types::AMF0_COMMAND, &[0; 100]));
        assert_eq!(
            read_all(&mut reader, &wire),
            Err(ChunkError::MessageTooLarge {
                length: 0x00ff_ffff,
                limit: LIMITS.max_message_bytes
            })
        );
        assert_eq!(
            read_all(&mut ChunkReader::new(LIMITS), &set_chunk_size(0x8000_0000)),
            Err(ChunkError::InvalidChunkSize(0x8000_0000))
        );
    }

    #[test]
    fn messages_in_progress_on_many_streams_are_capped_by_what_they_declare() {
        let mut reader = ChunkReader::new(LIMITS);
        // Each declares 60 KiB and sends one byte: the second passes, the third does not.
        let mut wire = type0(4, 0, 60 * 1024, types::VIDEO, &[]);
        wire.push(1);
        let first = read_all(&mut reader, &wire);
        assert_eq!(first, Ok(Vec::new()));
        let stalled = reader.committed;
        assert_eq!(stalled, 60 * 1024);
        let mut wire = vec![];
        // Chunk size is 128, so the first chunk of stream 4 is owed 127 more bytes.
        wire.extend_from_slice(&[0; 127]);
        wire.extend(type0(5, 0, 60 * 1024, types::VIDEO, &[]));
        assert!(matches!(
            read_all(&mut reader, &wire),
            Err(ChunkError::BufferedTooMuch { .. })
        ));
    }

    #[test]
    fn too_many_chunk_streams_are_refused() {
        let mut reader = ChunkReader::new(LIMITS);
        let mut wire = Vec::new();
        for csid in 3..3 + LIMITS.max_chunk_streams as u8 {
            wire.extend(type0(csid, 0, 1, types::AUDIO, &[0]));
        }
        assert_eq!(read_all(&mut reader, &wire).unwrap().len(), 8);
        assert_eq!(
            read_all(&mut reader, &type0(40, 0, 1, types::AUDIO, &[0])),
            Err(ChunkError::TooManyChunkStreams(LIMITS.max_chunk_streams))
        );
    }

    #[test]
    fn inconsistent_headers_are_refused() {
        // A continuation on a stream that never started.
        assert_eq!(
            read_all(&mut ChunkReader::new(LIMITS), &[0xc0 | 7, 1, 2, 3]),
            Err(ChunkError::NoPreviousHeader(7))
        );
        // A new length while a message is in progress (rml_rtmp's reader underflows here).
        let mut wire = type0(4, 0, 300, types::VIDEO, &[0; 128]);
        wire.extend(type0(4, 0, 10, types::VIDEO, &[0; 10]));
        assert_eq!(
            read_all(&mut ChunkReader::new(LIMITS), &wire),
            Err(ChunkError::InterruptedMessage(4))
        );
    }

    #[test]
    fn an_abort_frees_the_message_in_progress() {
        let mut reader = ChunkReader::new(LIMITS);
        let mut wire = type0(4, 0, 300, types::VIDEO, &[0; 128]);
        wire.extend(type0(2, 0, 4, types::ABORT, &4u32.to_be_bytes()));
        assert_eq!(read_all(&mut reader, &wire), Ok(Vec::new()));
        assert_eq!(reader.committed, 0);
        // The stream's next message starts afresh.
        let next = read_all(&mut reader, &type0(4, 5, 3, types::VIDEO, &[1, 2, 3])).unwrap();
        assert_eq!(&next[0].payload[..], &[1, 2, 3]);
    }

    #[test]
    fn timestamps_extend_and_wrap() {
        let mut reader = ChunkReader::new(LIMITS);
        let mut wire = type0(4, 0xffff_fff0, 1, types::AUDIO, &[0]);
        // Type 1: a delta of 0x20 wraps past 2^32.
        wire.extend_from_slice(&[0x40 | 4, 0, 0, 0x20, 0, 0, 1, types::AUDIO, 0]);
        // Type 3 starting a message: the same delta again.
        wire.extend_from_slice(&[0xc0 | 4, 0]);
        let times: Vec<u32> = read_all(&mut reader, &wire)
            .unwrap()
            .iter()
            .map(|message| message.timestamp)
            .collect();
        assert_eq!(times, [0xffff_fff0, 0x10, 0x30]);
    }
}
