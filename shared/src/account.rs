//! The account aggregate: a tenant. It is created once, and it keeps the playback keys its
//! signed playback tokens are verified with, and the generation of its API tokens (revoking
//! them all moves it on: a token minted under an older one is refused).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use crate::aggregate::Aggregate;
use crate::command::{AccountCommand, ToAccount};
use crate::event::{Event, EventEnvelope};
use crate::ids::{AccountId, PlaybackKeyId};
use crate::rejection::Rejection;

/// Playback keys one account may have at once: enough to rotate (add the new key, move the
/// token minting over, remove the old one) with room to spare.
pub const MAX_PLAYBACK_KEYS: usize = 10;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum AccountState {
    #[default]
    Absent,
    Exists(Account),
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub playback_keys: BTreeSet<PlaybackKeyId>,
    /// API tokens minted under an older generation are revoked.
    pub token_generation: u32,
}

impl Aggregate for AccountState {
    type Command = ToAccount;

    fn decide(&self, to: &ToAccount, _now: DateTime<Utc>) -> Result<Vec<Event>, Rejection> {
        decide(self, &to.command)
    }

    fn owner(&self, to: &ToAccount) -> Option<AccountId> {
        Some(to.account_id)
    }

    fn evolve(self, event: &EventEnvelope) -> Self {
        evolve(self, &event.event)
    }
}

fn decide(state: &AccountState, command: &AccountCommand) -> Result<Vec<Event>, Rejection> {
    match (state, command) {
        (AccountState::Absent, AccountCommand::Create { name }) => {
            crate::settings::validate_name(name).map_err(|invalid| Rejection::Invalid {
                field: invalid.field.to_owned(),
                message: invalid.requirement,
            })?;
            Ok(vec![Event::AccountCreated { name: name.clone() }])
        }
        (AccountState::Exists(_), AccountCommand::Create { .. }) => Err(Rejection::AlreadyExists {
            what: "account".into(),
        }),
        (AccountState::Absent, _) => Err(Rejection::not_found("account")),
        (
            AccountState::Exists(Account { playback_keys, .. }),
            AccountCommand::AddPlaybackKey { key_id, public_key },
        ) => {
            if !is_public_key(public_key) {
                return Err(Rejection::Invalid {
                    field: "public_key".into(),
                    message: "an Ed25519 public key: 64 lower-case hex digits".into(),
                });
            }
            if playback_keys.contains(key_id) {
                return Err(Rejection::AlreadyExists {
                    what: "playback key".into(),
                });
            }
            if playback_keys.len() >= MAX_PLAYBACK_KEYS {
                return Err(Rejection::QuotaExceeded {
                    what: "playback keys".into(),
                    limit: MAX_PLAYBACK_KEYS as u32,
                });
            }
            Ok(vec![Event::PlaybackKeyCreated {
                key_id: *key_id,
                public_key: public_key.clone(),
            }])
        }
        (
            AccountState::Exists(Account { playback_keys, .. }),
            AccountCommand::RemovePlaybackKey { key_id },
        ) => {
            if !playback_keys.contains(key_id) {
                return Err(Rejection::not_found("playback key"));
            }
            Ok(vec![Event::PlaybackKeyDeleted { key_id: *key_id }])
        }
        (AccountState::Exists(account), AccountCommand::RevokeTokens) => {
            let generation = account.token_generation.checked_add(1).ok_or_else(|| {
                Rejection::QuotaExceeded {
                    what: "token revocations".into(),
                    limit: u32::MAX,
                }
            })?;
            Ok(vec![Event::TokensRevoked { generation }])
        }
    }
}

/// 32 bytes as 64 lower-case hex digits: the one form events keep public keys in.
fn is_public_key(text: &str) -> bool {
    text.len() == 64
        && text
            .bytes()
            .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte))
}

fn evolve(state: AccountState, event: &Event) -> AccountState {
    match (state, event) {
        (_, Event::AccountCreated { name }) => AccountState::Exists(Account {
            name: name.clone(),
            ..Account::default()
        }),
        (AccountState::Exists(mut account), event) => {
            match event {
                Event::PlaybackKeyCreated { key_id, .. } => {
                    account.playback_keys.insert(*key_id);
                }
                Event::PlaybackKeyDeleted { key_id } => {
                    account.playback_keys.remove(key_id);
                }
                Event::TokensRevoked { generation } => {
                    account.token_generation = account.token_generation.max(*generation);
                }
                _ => {}
            }
            AccountState::Exists(account)
        }
        (state, _) => state,
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::aggregate::testing::Given;

    fn absent() -> Given<AccountState> {
        Given::absent(AccountId::generate(), None)
    }

    fn created() -> Given<AccountState> {
        absent().given(&[Event::AccountCreated {
            name: "acme".into(),
        }])
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap()
    }

    fn to(command: AccountCommand) -> ToAccount {
        ToAccount {
            account_id: AccountId::generate(),
            command,
        }
    }

    fn add(key_id: PlaybackKeyId) -> ToAccount {
        to(AccountCommand::AddPlaybackKey {
            key_id,
            public_key: "ab".repeat(32),
        })
    }

    #[test]
    fn an_account_is_created_once() {
        let create = to(AccountCommand::Create {
            name: "acme".into(),
        });
        let account = absent().accept(&create, now());
        assert_eq!(account.state, created().state);
        assert!(matches!(
            account.when(&create, now()),
            Err(Rejection::AlreadyExists { .. })
        ));
    }

    #[test]
    fn a_blank_name_is_invalid() {
        let create = to(AccountCommand::Create { name: "".into() });
        assert!(matches!(
            absent().when(&create, now()),
            Err(Rejection::Invalid { .. })
        ));
    }

    #[test]
    fn playback_keys_are_added_up_to_the_quota_and_removed_once() {
        let mut account = created();
        let mut keys = Vec::new();
        for _ in 0..MAX_PLAYBACK_KEYS {
            let key_id = PlaybackKeyId::generate();
            account = account.accept(&add(key_id), now());
            keys.push(key_id);
        }
        assert_eq!(
            account.when(&add(PlaybackKeyId::generate()), now()),
            Err(Rejection::QuotaExceeded {
                what: "playback keys".into(),
                limit: MAX_PLAYBACK_KEYS as u32
            })
        );
        assert!(matches!(
            account.when(&add(keys[0]), now()),
            Err(Rejection::AlreadyExists { .. })
        ));
        let remove = to(AccountCommand::RemovePlaybackKey { key_id: keys[0] });
        assert_eq!(
            account.when(&remove, now()),
            Ok(vec![Event::PlaybackKeyDeleted { key_id: keys[0] }])
        );
        let account = account.accept(&remove, now());
        assert_eq!(
            account.when(&remove, now()),
            Err(Rejection::NotFound {
                what: "playback key".into()
            })
        );
        assert!(account.when(&add(PlaybackKeyId::generate()), now()).is_ok());
    }

    #[test]
    fn revoking_tokens_moves_the_generation_on_each_time() {
        let revoke = to(AccountCommand::RevokeTokens);
        let mut account = created();
        for expected in 1..=3 {
            assert_eq!(
                account.when(&revoke, now()),
                Ok(vec![Event::TokensRevoked {
                    generation: expected
                }])
            );
            account = account.accept(&revoke, now());
        }
        assert!(matches!(
            absent().when(&revoke, now()),
            Err(Rejection::NotFound { .. })
        ));
    }

    #[test]
    fn a_public_key_must_be_32_bytes_of_hex_and_the_account_must_exist() {
        for bad in [
            "",
            "AB".repeat(32).as_str(),
            "ab".repeat(31).as_str(),
            "zz".repeat(32).as_str(),
        ] {
            let command = to(AccountCommand::AddPlaybackKey {
                key_id: PlaybackKeyId::generate(),
                public_key: bad.into(),
            });
            assert!(
                matches!(
                    created().when(&command, now()),
                    Err(Rejection::Invalid { .. })
                ),
                "{bad}"
            );
        }
        assert_eq!(
            absent().when(&add(PlaybackKeyId::generate()), now()),
            Err(Rejection::NotFound {
                what: "account".into()
            })
        );
    }
}
