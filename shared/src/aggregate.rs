//! What every aggregate is: a state that decides the commands addressed to it and evolves with
//! the events it recorded, both pure. The partition decider keeps aggregates of every kind
//! through this one trait, and one given/when/then harness ([`testing::Given`]) tests them all.

use chrono::{DateTime, Utc};

use crate::event::{Event, EventEnvelope};
use crate::ids::AccountId;
use crate::rejection::Rejection;

pub trait Aggregate: Clone + Default {
    /// A command addressed to one aggregate of this kind: which one, and what is asked.
    type Command;

    /// Decides `command` against this state at `now`, the command's issue time: the only clock
    /// a decision sees, so replaying it decides the same.
    fn decide(&self, command: &Self::Command, now: DateTime<Utc>) -> Result<Vec<Event>, Rejection>;

    /// The account whose events an accepted `command` records. `None` only where nothing can
    /// be accepted (a command for an aggregate that does not exist and is not a creation).
    fn owner(&self, command: &Self::Command) -> Option<AccountId>;

    /// Applies one recorded event. Events are facts: one that does not fit the state (which
    /// `decide` never produces) leaves the state as it was rather than failing a replay.
    fn evolve(self, event: &EventEnvelope) -> Self;
}

/// The given/when/then harness every aggregate's tests use.
#[cfg(any(test, feature = "testing"))]
pub mod testing {
    use super::*;
    use crate::ids::ChannelId;

    /// An aggregate of kind `A` owned by one account (and, for a channel, with its id), built
    /// from the events it is given.
    pub struct Given<A> {
        pub state: A,
        owner: AccountId,
        channel_id: Option<ChannelId>,
    }

    impl<A: Aggregate> Given<A> {
        /// An aggregate that does not exist yet.
        pub fn absent(owner: AccountId, channel_id: Option<ChannelId>) -> Self {
            Self {
                state: A::default(),
                owner,
                channel_id,
            }
        }

        /// Given these past events...
        pub fn given<'a>(mut self, events: impl IntoIterator<Item = &'a Event>) -> Self {
            for event in events {
                let recorded = self.recorded(event.clone());
                self.state = std::mem::take(&mut self.state).evolve(&recorded);
            }
            self
        }

        /// ...when this command is decided at `now`: these events, or this rejection.
        pub fn when(
            &self,
            command: &A::Command,
            now: DateTime<Utc>,
        ) -> Result<Vec<Event>, Rejection> {
            self.state.decide(command, now)
        }

        /// Decides `command` and, if it is accepted, applies its events.
        pub fn accept(self, command: &A::Command, now: DateTime<Utc>) -> Self {
            let events = self.when(command, now).expect("the command is accepted");
            self.given(&events)
        }

        fn recorded(&self, event: Event) -> EventEnvelope {
            EventEnvelope::accepted_now(self.owner, self.channel_id, event)
        }
    }
}
