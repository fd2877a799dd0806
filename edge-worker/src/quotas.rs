//! Per-account quotas: channels and webhook subscriptions an account may have, and sessions
//! it may have open at once (all of them, and those of ABR channels, each of which runs an
//! ffmpeg ladder). Counted when something would be added — channels and webhooks by the control
//! plane on its read models (creations are rare, and a count there needs no aggregate spanning
//! the account's channels), open sessions here on admission's
//! [`Directory`](crate::publication::directory::Directory) (an edge worker has no database).
//!
//! Creations of one account are taken one at a time per process (a stripe of locks held
//! across the count and the command), so a burst cannot pass a quota there; processes of a
//! scale-out deployment each count on their own, so concurrent creations sent to N control
//! planes may pass it by up to N − 1.

use prometheus::IntCounterVec;
use sigma_shared::ids::AccountId;
use sigma_shared::rejection::Rejection;
use tokio::sync::{Mutex, MutexGuard};

use crate::publication::directory::OpenSessions;

/// The quotas (`SIGMA_QUOTA_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuotaLimits {
    pub channels: u32,
    pub webhooks: u32,
    /// Sessions open at once (live, or between connect and the end of the reconnect window).
    pub live_sessions: u32,
    /// Of those, sessions of `transcode: abr` channels.
    pub abr_sessions: u32,
}

impl Default for QuotaLimits {
    fn default() -> Self {
        Self {
            channels: 1_000,
            webhooks: 100,
            live_sessions: 50,
            abr_sessions: 10,
        }
    }
}

/// Locks creations are serialised under, per account (hashed onto a stripe).
const STRIPES: usize = 16;

pub struct Quotas {
    pub limits: QuotaLimits,
    stripes: [Mutex<()>; STRIPES],
    /// `sigma_limits_hit_total{limit="quota_…"}`.
    hit: IntCounterVec,
}

/// What a quota counts.
#[derive(Clone, Copy, Debug)]
pub enum Counted {
    Channels,
    Webhooks,
    LiveSessions,
    AbrSessions,
}

impl Counted {
    fn what(self) -> &'static str {
        match self {
            Self::Channels => "channels",
            Self::Webhooks => "webhooks",
            Self::LiveSessions => "live sessions",
            Self::AbrSessions => "ABR sessions",
        }
    }

    fn metric(self) -> &'static str {
        match self {
            Self::Channels => "quota_channels",
            Self::Webhooks => "quota_webhooks",
            Self::LiveSessions => "quota_live_sessions",
            Self::AbrSessions => "quota_abr_sessions",
        }
    }
}

/// Refused: what and the quota; or the count (of type `E`) failed.
#[derive(Debug, thiserror::Error)]
pub enum QuotaError<E> {
    #[error(transparent)]
    Exceeded(Rejection),
    #[error(transparent)]
    Count(E),
}

impl Quotas {
    pub fn new(limits: QuotaLimits, hit: IntCounterVec) -> Self {
        Self {
            limits,
            stripes: std::array::from_fn(|_| Mutex::new(())),
            hit,
        }
    }

    /// Room for one more of `counted`: takes the account's lock, then counts (the count runs
    /// only once it is held); hold the guard until the creation's command is decided.
    pub async fn admit<E>(
        &self,
        account: AccountId,
        counted: Counted,
        count: impl std::future::Future<Output = Result<u64, E>>,
    ) -> Result<MutexGuard<'_, ()>, QuotaError<E>> {
        let serial = self.serial(account).await;
        let count = count.await.map_err(QuotaError::Count)?;
        self.within(counted, count).map_err(QuotaError::Exceeded)?;
        Ok(serial)
    }

    /// Room for a channel to open a session, given what `open` counts of the account's other
    /// channels once the account's lock is held (a broadcast that resumes its open session
    /// opens none, so the channel's own session is not counted), and one more ABR session for
    /// an `abr` channel: hold the guard until the connect is decided.
    pub async fn session(
        &self,
        account: AccountId,
        abr: bool,
        open: impl FnOnce() -> OpenSessions,
    ) -> Result<MutexGuard<'_, ()>, Rejection> {
        let serial = self.serial(account).await;
        let open = open();
        self.within(Counted::LiveSessions, open.all)?;
        if abr {
            self.within(Counted::AbrSessions, open.abr)?;
        }
        Ok(serial)
    }

    async fn serial(&self, account: AccountId) -> MutexGuard<'_, ()> {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(account);
        self.stripes[hash as usize % STRIPES].lock().await
    }

    fn within(&self, counted: Counted, count: u64) -> Result<(), Rejection> {
        let limit = match counted {
            Counted::Channels => self.limits.channels,
            Counted::Webhooks => self.limits.webhooks,
            Counted::LiveSessions => self.limits.live_sessions,
            Counted::AbrSessions => self.limits.abr_sessions,
        };
        if count < u64::from(limit) {
            return Ok(());
        }
        self.hit.with_label_values(&[counted.metric()]).inc();
        Err(Rejection::QuotaExceeded {
            what: counted.what().into(),
            limit,
        })
    }
}
