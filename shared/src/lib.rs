//! The language of the Sigma Live domain, as pure code.
//!
//! Everything the other crates agree on lives here: typed ids, channel settings, the commands a
//! client or an edge worker may issue, the versioned events the log keeps, the channel and session
//! state machines as pure `decide`/`evolve` functions, and the event-log port (a trait) that the
//! adapters in `sigma-event-log` implement.
//!
//! This crate does no I/O and reads no clock: time arrives inside commands, so every decision can
//! be replayed and tested given/when/then.
//!
//! # Layout
//! - [`ids`]: typed identifiers.
//! - [`settings`]: channel settings, their defaults, validation and patches.
//! - [`session`]: session status, end reasons and the open-session record.
//! - [`aggregate`]: what every aggregate is (`decide`, `owner`, `evolve`) and the
//!   given/when/then harness their tests share.
//! - [`channel`]: the channel aggregate — `decide` and `evolve` — which owns its sessions.
//! - [`account`]: the account aggregate.
//! - [`webhook`]: the webhook-subscription aggregate.
//! - [`command`] / [`event`]: what goes into the log and what comes out, with schema versions.
//! - [`rejection`]: why a command was refused.
//! - [`log`]: the event-log port.
//! - [`media`]: media events, the facts edge workers publish for playback.
//! - [`heartbeat`]: what a node's heartbeat says.
//! - [`audience`]: viewer activity reports and the arithmetic of concurrency, views and
//!   watch time.
//! - [`request`]: what players put in HTTP requests (byte ranges, playlist queries), read by
//!   bounded code.

pub mod account;
pub mod aggregate;
pub mod audience;
pub mod channel;
pub mod command;
pub mod event;
pub mod heartbeat;
pub mod ids;
pub mod log;
pub mod media;
pub mod rejection;
pub mod request;
pub mod secret;
pub mod session;
pub mod settings;
pub mod webhook;
