//! The aggregates of one partition and the commands already decided there. Pure apart from
//! drawing event ids.

use std::collections::{HashMap, HashSet, VecDeque};

use chrono::{DateTime, Utc};
use sigma_shared::account::AccountState;
use sigma_shared::aggregate::Aggregate;
use sigma_shared::channel::{self, ChannelState};
use sigma_shared::command::{Command, CommandEnvelope, IngestAction};
use sigma_shared::event::{current_schema_version, Decision, Event, EventEnvelope, Outcome};
use sigma_shared::ids::{AccountId, ChannelId, CommandId, EventId};
use sigma_shared::rejection::Rejection;
use sigma_shared::webhook::WebhookState;

/// How many recent command ids a partition remembers. A command is redelivered only when a
/// decider stopped after appending its decision and before the next commit of the commands'
/// offset, so only the commands after the committed offset (at most the deciders'
/// `COMMIT_EVERY`, and a few the commit raced) can come again; the rest may be forgotten.
const REMEMBERED_COMMANDS: usize = 100_000;

#[derive(Default)]
pub struct PartitionDecider {
    aggregates: HashMap<String, Entry>,
    decided: RecentIds,
}

/// A set of the most recent [`REMEMBERED_COMMANDS`] command ids.
#[derive(Default)]
struct RecentIds {
    set: HashSet<CommandId>,
    order: VecDeque<CommandId>,
}

impl RecentIds {
    fn contains(&self, id: &CommandId) -> bool {
        self.set.contains(id)
    }

    fn insert(&mut self, id: CommandId) {
        if self.set.insert(id) {
            self.order.push_back(id);
            if self.order.len() > REMEMBERED_COMMANDS {
                let oldest = self.order.pop_front().expect("not empty");
                self.set.remove(&oldest);
            }
        }
    }
}

/// One aggregate of the partition.
struct Entry {
    state: AggregateState,
    /// The sequence of the aggregate's last event.
    sequence: u64,
}

/// The state of one aggregate, of whichever kind.
enum AggregateState {
    Account(AccountState),
    Channel(ChannelState),
    Webhook(WebhookState),
}

impl AggregateState {
    /// The empty state of the aggregate whose first event is `event`.
    fn absent_for(event: &EventEnvelope) -> Self {
        if event.channel_id.is_some() {
            Self::Channel(ChannelState::Absent)
        } else if event.event.webhook_id().is_some() {
            Self::Webhook(WebhookState::Absent)
        } else {
            Self::Account(AccountState::Absent)
        }
    }

    fn evolve(self, event: &EventEnvelope) -> Self {
        match self {
            Self::Account(state) => Self::Account(state.evolve(event)),
            Self::Channel(state) => Self::Channel(state.evolve(event)),
            Self::Webhook(state) => Self::Webhook(state.evolve(event)),
        }
    }
}

/// An aggregate kind as the partition keeps it: one variant of [`AggregateState`].
trait Kept: Aggregate {
    fn kept(state: &AggregateState) -> Option<&Self>;
}

macro_rules! kept_as {
    ($variant:ident, $state:ty) => {
        impl Kept for $state {
            fn kept(state: &AggregateState) -> Option<&Self> {
                match state {
                    AggregateState::$variant(state) => Some(state),
                    _ => None,
                }
            }
        }
    };
}

kept_as!(Account, AccountState);
kept_as!(Channel, ChannelState);
kept_as!(Webhook, WebhookState);

/// Decides `command` against the aggregate's state (absent if it has none of this kind yet):
/// the account the events belong to, and the events.
fn decide_kept<A: Kept>(
    aggregate: Option<&Entry>,
    command: &A::Command,
    now: DateTime<Utc>,
) -> Result<(AccountId, Vec<Event>), Rejection> {
    let absent = A::default();
    let state = aggregate
        .and_then(|aggregate| A::kept(&aggregate.state))
        .unwrap_or(&absent);
    let events = state.decide(command, now)?;
    let owner = state.owner(command).ok_or_else(|| Rejection::NotFound {
        what: "aggregate".into(),
    })?;
    Ok((owner, events))
}

/// A channel's session timers: when each timed end is due (see [`super::timers`]).
pub type ChannelTimers = (ChannelId, Vec<(DateTime<Utc>, IngestAction)>);

impl PartitionDecider {
    /// The timers of the aggregate `stream`, if it is a channel (none once it has no session).
    pub fn timers_of(&self, stream: &str) -> Option<ChannelTimers> {
        let channel_id: ChannelId = stream.parse().ok()?;
        let due = match self
            .aggregates
            .get(stream)
            .map(|aggregate| &aggregate.state)
        {
            Some(AggregateState::Channel(ChannelState::Exists(channel))) => {
                channel::timers(channel)
            }
            _ => Vec::new(),
        };
        Some((channel_id, due))
    }

    /// Every channel of the partition that has a timer, with its timers.
    pub fn all_timers(&self) -> Vec<ChannelTimers> {
        self.aggregates
            .values()
            .filter_map(|aggregate| match &aggregate.state {
                AggregateState::Channel(ChannelState::Exists(channel)) => {
                    let due = channel::timers(channel);
                    (!due.is_empty()).then_some((channel.id, due))
                }
                _ => None,
            })
            .collect()
    }

    /// Decides a command, or returns `None` if it was decided before (a redelivery).
    pub fn decide(&self, envelope: &CommandEnvelope) -> Option<Decision> {
        if self.decided.contains(&envelope.id) {
            return None;
        }
        let stream = envelope.stream();
        let aggregate = self.aggregates.get(&stream);
        let sequence = aggregate.map_or(0, |aggregate| aggregate.sequence);
        let now = envelope.issued_at;
        let decided = match &envelope.command {
            Command::Account(to) => decide_kept::<AccountState>(aggregate, to, now),
            Command::Channel(to) => decide_kept::<ChannelState>(aggregate, to, now),
            Command::Webhook(to) => decide_kept::<WebhookState>(aggregate, to, now),
        };
        let channel_id = match &envelope.command {
            Command::Channel(to) => Some(to.channel_id),
            Command::Account(_) | Command::Webhook(_) => None,
        };
        let outcome = match decided {
            Err(rejection) => Outcome::Rejected { rejection },
            Ok((account_id, events)) => Outcome::Accepted {
                events: events
                    .into_iter()
                    .zip(sequence + 1..)
                    .map(|(event, sequence)| {
                        envelope_of(envelope, account_id, channel_id, sequence, event)
                    })
                    .collect(),
            },
        };
        Some(Decision {
            command_id: envelope.id,
            stream,
            outcome,
        })
    }

    /// Folds a decision (new, or read back from the log) into the state.
    pub fn apply(&mut self, decision: &Decision) {
        self.decided.insert(decision.command_id);
        for event in decision.events() {
            let aggregate = self
                .aggregates
                .entry(decision.stream.clone())
                .or_insert_with(|| Entry {
                    state: AggregateState::absent_for(event),
                    sequence: 0,
                });
            aggregate.sequence = event.sequence;
            let state = std::mem::replace(
                &mut aggregate.state,
                AggregateState::Account(AccountState::Absent),
            );
            aggregate.state = state.evolve(event);
        }
    }
}

fn envelope_of(
    command: &CommandEnvelope,
    account_id: AccountId,
    channel_id: Option<ChannelId>,
    sequence: u64,
    event: Event,
) -> EventEnvelope {
    EventEnvelope {
        id: EventId::generate(),
        account_id,
        channel_id,
        session_id: event.session_id(),
        sequence,
        occurred_at: command.issued_at,
        command_id: command.id,
        schema_version: current_schema_version(event.type_name()),
        event,
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use sigma_shared::command::{AccountCommand, ChannelCommand};
    use sigma_shared::settings::ChannelSettings;

    use super::*;

    #[test]
    fn a_redelivered_command_is_not_decided_again() {
        let mut decider = PartitionDecider::default();
        let command = CommandEnvelope::new(
            Command::account(
                AccountId::generate(),
                AccountCommand::Create {
                    name: "acme".into(),
                },
            ),
            Utc::now(),
        );
        let decision = decider.decide(&command).unwrap();
        decider.apply(&decision);
        assert!(decider.decide(&command).is_none());
    }

    #[test]
    fn sequences_continue_across_decisions() {
        let mut decider = PartitionDecider::default();
        let (account_id, channel_id) = (AccountId::generate(), ChannelId::generate());
        let create = CommandEnvelope::new(
            Command::channel(
                channel_id,
                ChannelCommand::Create {
                    account_id,
                    name: "studio".into(),
                    settings: ChannelSettings::default(),
                    stream_key: crate::sealing::SecretsKey::generate()
                        .seal_stream_key("sk_aaaaaaaaaaaaaaaaaaaa", channel_id),
                },
            ),
            Utc::now(),
        );
        let first = decider.decide(&create).unwrap();
        decider.apply(&first);
        let stop = CommandEnvelope::new(
            Command::channel(
                channel_id,
                ChannelCommand::Owner {
                    account_id,
                    action: sigma_shared::command::OwnerAction::Stop,
                },
            ),
            Utc::now(),
        );
        let second = decider.decide(&stop).unwrap();
        assert_eq!(second.events()[0].sequence, 2);
        assert_eq!(second.events()[0].account_id, account_id);
    }
}
