//! Source recordings. While a session runs, ingest stores the publisher's own media, untouched,
//! piece by piece (`live/{channel}/{session}/{connection}/source/`: an init segment and whole
//! segments), so a crash loses at most the piece being written. When a session of a channel
//! with `record_source` ends, this job joins every connection's pieces, in connection order,
//! into one MP4 (ffmpeg, stream copy, `+faststart` so it plays while downloading), stores it at
//! `recordings/{session}.mp4` and records `recording.ready`.
//!
//! It is a member of the `sigma-recordings` group on the events topic: a session's recording is
//! made by exactly one process, and again by another if that one dies before committing. The
//! same moment stores the session's final catch-up playlists and closes its storyboard
//! (`storyboard.ready`), whatever `record_source` says, since all wait for the session to end.
//!
//! The owner may delete the session's media meanwhile (`session.media_deleted`; retention
//! deletes what is stored then). What this job stores after that would stay, so once it is
//! done it looks again — the decider refusing its `recording.ready` or `storyboard.ready`, or
//! the sessions read model — and deletes what it stored.

use std::path::Path;
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as StorePath;
use object_store::{ObjectMeta, ObjectStore};
use sea_orm::{DatabaseConnection, EntityTrait};
use sigma_shared::command::{ChannelCommand, Command, IngestAction};
use sigma_shared::event::{Decision, Event, EventEnvelope};
use sigma_shared::ids::{ChannelId, SessionId};
use sigma_shared::log::{
    partition_for, Checkpoints, EventLog, GroupEvent, LogError, Pace, EVENTS_TOPIC, MEDIA_TOPIC,
};
use sigma_shared::media::{MediaEvent, SOURCE_RENDITION};
use sigma_shared::rejection::Rejection;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::db;
use sigma_edge_worker::bus::CommandBus;
use sigma_edge_worker::storage::disk::Level;
use sigma_edge_worker::storage::LiveStore;
use sigma_playback::catchup::{self, LOG_CLOCK_MARGIN_MS};

pub const GROUP: &str = "sigma-recordings";
/// How often a waiting recorder looks at the storage again.
const STORAGE_POLL: std::time::Duration = std::time::Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error(transparent)]
    Log(#[from] LogError),
    #[error("read models: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error("object store: {0}")]
    Store(#[from] object_store::Error),
    #[error("scratch files: {0}")]
    Io(#[from] std::io::Error),
    #[error("ffmpeg: {0}")]
    Ffmpeg(String),
}

/// Runs until the log fails, or until a recording cannot be made for now (the store or the
/// scratch disk failing): the supervisor then starts it again after a pause, and it takes up
/// the same session, as its end was not committed. While live media are held in memory or
/// the disk is at its reserve, it waits. A recording ffmpeg cannot make is given up. `ready`
/// is called once the member has joined.
pub async fn run(
    log: &dyn EventLog,
    db: DatabaseConnection,
    live: Arc<LiveStore>,
    bus: Arc<CommandBus>,
    ready: impl FnOnce(),
) -> Result<(), RecordingError> {
    let store = live.store().clone();
    let mut member = log.join(EVENTS_TOPIC, GROUP, Pace::Relaxed).await?;
    ready();
    let mut checkpoints = Checkpoints::every(COMMIT_EVERY);
    loop {
        let GroupEvent::Record(record) = member.next().await? else {
            continue;
        };
        let ended = Decision::from_bytes(&record.payload).map_or(Vec::new(), |decision| {
            decision.events().iter().filter_map(ended_session).collect()
        });
        // Records that end no session are committed only now and then: reading them again
        // after a restart does nothing. A session closed is committed at once.
        if !checkpoints.due(record.partition) && ended.is_empty() {
            continue;
        }
        for (channel_id, session_id) in ended {
            wait_for_storage(&live).await;
            let deleted =
                close_session(log, &db, store.as_ref(), &bus, channel_id, session_id).await?;
            if deleted || media_deleted(&db, session_id).await? {
                erase(store.as_ref(), channel_id, session_id).await?;
            }
        }
        member.commit(record.partition, record.offset + 1).await?;
    }
}

/// How many records that end no session pass at most between two commits of the group.
const COMMIT_EVERY: u32 = 100;

/// The channel and session an event ends, if it is a `session.ended`.
fn ended_session(envelope: &EventEnvelope) -> Option<(ChannelId, SessionId)> {
    match (&envelope.event, envelope.channel_id) {
        (Event::SessionEnded { session_id, .. }, Some(channel_id)) => {
            Some((channel_id, *session_id))
        }
        _ => None,
    }
}

/// Stores the ended session's catch-up playlists, closes its storyboard and makes its
/// recording; says whether the decider refused them because the session's media were deleted.
async fn close_session(
    log: &dyn EventLog,
    db: &DatabaseConnection,
    store: &dyn ObjectStore,
    bus: &CommandBus,
    channel_id: ChannelId,
    session_id: SessionId,
) -> Result<bool, RecordingError> {
    store_catchup(log, store, db, channel_id, session_id).await?;
    let mut deleted = finish_storyboard(store, bus, channel_id, session_id).await;
    if !records(db, channel_id).await? {
        return Ok(deleted);
    }
    match finalize(store, channel_id, session_id).await {
        Ok(Some(recording)) => deleted |= announce(bus, channel_id, session_id, recording).await,
        Ok(None) => tracing::info!(%session_id, "no media were stored: no recording"),
        Err(RecordingError::Ffmpeg(error)) => {
            tracing::error!(%session_id, %error, "recording failed: ffmpeg could not join the session's media")
        }
        Err(error) => return Err(error),
    }
    Ok(deleted)
}

/// Whether the owner deleted the session's media, as the sessions read model says.
async fn media_deleted(
    db: &DatabaseConnection,
    session_id: SessionId,
) -> Result<bool, sea_orm::DbErr> {
    Ok(db::sessions::Entity::find_by_id(session_id.to_string())
        .one(db)
        .await?
        .is_some_and(|session| session.media_deleted_at.is_some()))
}

/// Deletes what this job stored of a session whose media were deleted meanwhile.
async fn erase(
    store: &dyn ObjectStore,
    channel_id: ChannelId,
    session_id: SessionId,
) -> Result<(), RecordingError> {
    let objects = crate::retention::delete_media(store, channel_id, session_id).await?
        + crate::retention::delete_recording(store, session_id).await?;
    tracing::info!(%session_id, objects, "the session's media were deleted while it closed: erased what was stored");
    Ok(())
}

/// Waits while this process holds live media the store has not taken (a recording made now
/// would miss them) or the disk is down to its reserve (a recording is as large as its
/// session).
async fn wait_for_storage(live: &LiveStore) {
    if !live.failing() && live.disk_level() < Level::Reserve {
        return;
    }
    tracing::warn!("recordings wait: live media are held in memory or the disk is at its reserve");
    while live.failing() || live.disk_level() == Level::Reserve {
        tokio::time::sleep(STORAGE_POLL).await;
    }
}

/// Stores the ended session's catch-up playlists under `vod/{session}/` (each rendition's,
/// then `index.m3u8`), so that playback need not keep every ended session's timeline in
/// memory: it lets a session go once its index is stored. The playlists are built as playback
/// builds them, from the session's media events, read back from its channel's partition of
/// the media topic from a little before the session started.
async fn store_catchup(
    log: &dyn EventLog,
    store: &dyn ObjectStore,
    db: &DatabaseConnection,
    channel_id: ChannelId,
    session_id: SessionId,
) -> Result<(), RecordingError> {
    let started_ms = db::sessions::Entity::find_by_id(session_id.to_string())
        .one(db)
        .await?
        .map_or(0, |session| session.started_at.timestamp_millis());
    let partition = partition_for(&channel_id.to_string(), log.partitions());
    let from = log
        .offset_at(MEDIA_TOPIC, partition, started_ms - LOG_CLOCK_MARGIN_MS)
        .await?;
    let until = log.end_offset(MEDIA_TOPIC, partition).await?;
    let mut records = log.read(MEDIA_TOPIC, partition, from, until).await?;
    let mut catchup = catchup::Sessions::default();
    while let Some(record) = records.next().await {
        match MediaEvent::from_bytes(&record?.payload) {
            Some(event) if event.stream().session_id == session_id => catchup.apply(&event),
            _ => {}
        }
    }
    catchup.end(session_id);
    for (name, text) in catchup.stored_playlists(&session_id) {
        let key = StorePath::from(format!("vod/{session_id}/{name}"));
        store.put(&key, text.into_bytes().into()).await?;
    }
    Ok(())
}

/// The ended session's storyboard holds every thumbnail it will ever have: say so
/// (`storyboard.ready`), if it has any. True if refused because the media were deleted.
async fn finish_storyboard(
    store: &dyn ObjectStore,
    bus: &CommandBus,
    channel_id: ChannelId,
    session_id: SessionId,
) -> bool {
    let thumbnails =
        sigma_edge_worker::publication::thumbnails::stored_count(store, session_id).await;
    if thumbnails == 0 {
        return false;
    }
    let action = IngestAction::FinishStoryboard {
        session_id,
        thumbnails: thumbnails as u32,
    };
    submit(bus, channel_id, session_id, action, "storyboard").await
}

async fn records(db: &DatabaseConnection, channel_id: ChannelId) -> Result<bool, sea_orm::DbErr> {
    Ok(db::channels::Entity::find_by_id(channel_id.to_string())
        .one(db)
        .await?
        .is_some_and(|channel| channel.record_source))
}

/// A finalized recording.
struct Recording {
    path: String,
    duration_seconds: f64,
    bytes: u64,
}

/// Records `recording.ready`; true if refused because the media were deleted.
async fn announce(
    bus: &CommandBus,
    channel_id: ChannelId,
    session_id: SessionId,
    recording: Recording,
) -> bool {
    let action = IngestAction::FinishRecording {
        session_id,
        path: recording.path,
        duration_seconds: recording.duration_seconds,
        bytes: recording.bytes,
    };
    submit(bus, channel_id, session_id, action, "recording").await
}

/// Submits `action`; true if it was refused because the session's media were deleted.
async fn submit(
    bus: &CommandBus,
    channel_id: ChannelId,
    session_id: SessionId,
    action: IngestAction,
    what: &str,
) -> bool {
    let command = Command::channel(channel_id, ChannelCommand::Ingest { action });
    match bus.submit(command).await {
        Ok(Ok(_)) => tracing::info!(%session_id, what, "ready"),
        Ok(Err(Rejection::MediaDeleted { .. })) => return true,
        Ok(Err(rejection)) => tracing::warn!(%session_id, what, %rejection, "not recorded"),
        Err(error) => tracing::warn!(%session_id, what, %error, "not recorded"),
    }
    false
}

/// One publisher connection's stored source: its init segment and its whole segments, in
/// order.
struct Piece {
    init: ObjectMeta,
    segments: Vec<(u64, ObjectMeta)>,
}

/// The session's source pieces, one per connection, in the order the connections started.
async fn pieces(
    store: &dyn ObjectStore,
    channel_id: ChannelId,
    session_id: SessionId,
) -> Result<Vec<Piece>, object_store::Error> {
    let prefix = StorePath::from(format!("live/{channel_id}/{session_id}"));
    let objects: Vec<ObjectMeta> = store.list(Some(&prefix)).try_collect().await?;
    let mut by_connection: std::collections::BTreeMap<String, (Option<ObjectMeta>, Vec<_>)> =
        Default::default();
    for object in objects {
        let parts: Vec<&str> = object.location.as_ref().split('/').collect();
        // live / channel / session / connection / rendition / file
        let [_, _, _, connection, rendition, file] = parts[..] else {
            continue;
        };
        if rendition != SOURCE_RENDITION {
            continue;
        }
        let entry = by_connection.entry(connection.to_owned()).or_default();
        if file == "init.mp4" {
            entry.0 = Some(object);
        } else if let Some(segment) = file
            .strip_suffix(".m4s")
            .and_then(|stem| stem.parse::<u64>().ok())
        {
            // `{segment}.m4s`; parts are `{segment}.{index}.m4s` and do not parse.
            entry.1.push((segment, object));
        }
    }
    let mut pieces: Vec<Piece> = by_connection
        .into_values()
        .filter_map(|(init, mut segments)| {
            segments.sort_by_key(|(number, _)| *number);
            Some(Piece {
                init: init?,
                segments,
            })
            .filter(|piece| !piece.segments.is_empty())
        })
        .collect();
    pieces.sort_by_key(|piece| piece.init.last_modified);
    Ok(pieces)
}

/// Joins the session's pieces into one MP4 in the object store; `None` if nothing was stored.
/// File to file: each piece is copied from the store into a scratch file as it streams, ffmpeg
/// joins them on disk, and the result streams back up in parts, so a session of any length
/// costs a few MiB of memory.
async fn finalize(
    store: &dyn ObjectStore,
    channel_id: ChannelId,
    session_id: SessionId,
) -> Result<Option<Recording>, RecordingError> {
    let pieces = pieces(store, channel_id, session_id).await?;
    if pieces.is_empty() {
        return Ok(None);
    }
    let scratch = tempfile::tempdir()?;
    let mut list = String::new();
    for (n, piece) in pieces.iter().enumerate() {
        let file = scratch.path().join(format!("piece{n}.mp4"));
        let mut writer = tokio::fs::File::create(&file).await?;
        let objects =
            std::iter::once(&piece.init).chain(piece.segments.iter().map(|(_, meta)| meta));
        for object in objects {
            copy_into(store, &object.location, &mut writer).await?;
        }
        writer.flush().await?;
        list.push_str(&format!("file '{}'\n", file.display()));
    }
    let list_file = scratch.path().join("pieces.txt");
    tokio::fs::write(&list_file, list).await?;
    let output = scratch.path().join("recording.mp4");
    let duration_seconds = {
        let (list_file, output) = (list_file.clone(), output.clone());
        tokio::task::spawn_blocking(move || join(&list_file, &output))
            .await
            .map_err(|error| RecordingError::Ffmpeg(error.to_string()))??
    };
    let path = format!("recordings/{session_id}.mp4");
    let bytes = upload(store, &output, &StorePath::from(path.as_str())).await?;
    Ok(Some(Recording {
        path,
        duration_seconds,
        bytes,
    }))
}

/// Appends the object at `location` to `file`, chunk by chunk as the store yields them.
async fn copy_into(
    store: &dyn ObjectStore,
    location: &StorePath,
    file: &mut tokio::fs::File,
) -> Result<(), RecordingError> {
    let mut chunks = store.get(location).await?.into_stream();
    while let Some(chunk) = chunks.try_next().await? {
        file.write_all(&chunk).await?;
    }
    Ok(())
}

/// Parts in flight while a recording uploads (each the store's part size, 5 MiB).
const UPLOAD_PARTS_IN_FLIGHT: usize = 2;

/// Streams `file` to `path` as a multipart upload; returns its size.
async fn upload(
    store: &dyn ObjectStore,
    file: &Path,
    path: &StorePath,
) -> Result<u64, RecordingError> {
    let mut writer = object_store::WriteMultipart::new(store.put_multipart(path).await?);
    let mut reader = tokio::fs::File::open(file).await?;
    let mut buffer = vec![0u8; 1 << 20];
    let mut size = 0;
    loop {
        let read = reader.read(&mut buffer).await?;
        if read == 0 {
            break;
        }
        writer.wait_for_capacity(UPLOAD_PARTS_IN_FLIGHT).await?;
        writer.write(&buffer[..read]);
        size += read as u64;
    }
    writer.finish().await?;
    Ok(size)
}

/// ffmpeg's concat demuxer joins the pieces without re-encoding, timestamps running on across
/// them; returns its duration (ffprobe).
fn join(list: &Path, output: &Path) -> Result<f64, RecordingError> {
    let mut child = ffmpeg_sidecar::command::FfmpegCommand::new()
        .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-y"])
        .args(["-f", "concat", "-safe", "0", "-i"])
        .arg(list)
        .args(["-c", "copy", "-movflags", "+faststart"])
        .arg(output)
        .spawn()
        .map_err(|error| RecordingError::Ffmpeg(format!("cannot start ffmpeg: {error}")))?;
    let mut stderr = String::new();
    if let Some(mut pipe) = child.take_stderr() {
        let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
    }
    let status = child.wait()?;
    if !status.success() {
        return Err(RecordingError::Ffmpeg(format!("{status}: {stderr}")));
    }
    let probe = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
        ])
        .arg(output)
        .output()?;
    let duration = String::from_utf8_lossy(&probe.stdout)
        .trim()
        .parse()
        .map_err(|_| RecordingError::Ffmpeg("ffprobe could not read the recording".into()))?;
    Ok(duration)
}
