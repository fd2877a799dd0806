//! The account aggregate: a tenant. It is created once, and it keeps the playback keys its
//! signed playback tokens are verified with, and the generation of its API tokens (revoking
//! them all moves it on: a token minted under an older one is refused).

use std::collections::BTreeSet;

use crate::command::AccountCommand;
use crate::event::Event;
use crate::ids::PlaybackKeyId;
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

pub fn decide(state: &AccountState, command: &AccountCommand) -> Result<Vec<Event>, Rejection> {
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

pub fn evolve(state: AccountState, event: &Event) -> AccountState {
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
    use super::*;

    fn created() -> AccountState {
        evolve(
            AccountState::Absent,
            &Event::AccountCreated {
                name: "acme".into(),
            },
        )
    }

    fn add(key_id: PlaybackKeyId) -> AccountCommand {
        AccountCommand::AddPlaybackKey {
            key_id,
            public_key: "ab".repeat(32),
        }
    }

    #[test]
    fn an_account_is_created_once() {
        let create = AccountCommand::Create {
            name: "acme".into(),
        };
        let events = decide(&AccountState::Absent, &create).unwrap();
        let state = events.iter().fold(AccountState::Absent, evolve);
        assert_eq!(state, created());
        assert!(matches!(
            decide(&state, &create),
            Err(Rejection::AlreadyExists { .. })
        ));
    }

    #[test]
    fn a_blank_name_is_invalid() {
        let create = AccountCommand::Create { name: "".into() };
        assert!(matches!(
            decide(&AccountState::Absent, &create),
            Err(Rejection::Invalid { .. })
        ));
    }

    #[test]
    fn playback_keys_are_added_up_to_the_quota_and_removed_once() {
        let mut state = created();
        let mut keys = Vec::new();
        for _ in 0..MAX_PLAYBACK_KEYS {
            let key_id = PlaybackKeyId::generate();
            let events = decide(&state, &add(key_id)).unwrap();
            state = events.iter().fold(state, evolve);
            keys.push(key_id);
        }
        assert_eq!(
            decide(&state, &add(PlaybackKeyId::generate())),
            Err(Rejection::QuotaExceeded {
                what: "playback keys".into(),
                limit: MAX_PLAYBACK_KEYS as u32
            })
        );
        assert!(matches!(
            decide(&state, &add(keys[0])),
            Err(Rejection::AlreadyExists { .. })
        ));
        let remove = AccountCommand::RemovePlaybackKey { key_id: keys[0] };
        let events = decide(&state, &remove).unwrap();
        assert_eq!(events, vec![Event::PlaybackKeyDeleted { key_id: keys[0] }]);
        state = events.iter().fold(state, evolve);
        assert_eq!(
            decide(&state, &remove),
            Err(Rejection::NotFound {
                what: "playback key".into()
            })
        );
        assert!(decide(&state, &add(PlaybackKeyId::generate())).is_ok());
    }

    #[test]
    fn revoking_tokens_moves_the_generation_on_each_time() {
        let mut state = created();
        for expected in 1..=3 {
            let events = decide(&state, &AccountCommand::RevokeTokens).unwrap();
            assert_eq!(
                events,
                vec![Event::TokensRevoked {
                    generation: expected
                }]
            );
            state = events.iter().fold(state, evolve);
        }
        assert!(matches!(
            decide(&AccountState::Absent, &AccountCommand::RevokeTokens),
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
            let command = AccountCommand::AddPlaybackKey {
                key_id: PlaybackKeyId::generate(),
                public_key: bad.into(),
            };
            assert!(
                matches!(decide(&created(), &command), Err(Rejection::Invalid { .. })),
                "{bad}"
            );
        }
        assert_eq!(
            decide(&AccountState::Absent, &add(PlaybackKeyId::generate())),
            Err(Rejection::NotFound {
                what: "account".into()
            })
        );
    }
}
