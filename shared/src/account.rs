//! The account aggregate: a tenant. It has one rule: it is created once.

use crate::command::AccountCommand;
use crate::event::Event;
use crate::rejection::Rejection;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum AccountState {
    #[default]
    Absent,
    Exists {
        name: String,
    },
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
        (AccountState::Exists { .. }, AccountCommand::Create { .. }) => {
            Err(Rejection::AlreadyExists {
                what: "account".into(),
            })
        }
    }
}

pub fn evolve(state: AccountState, event: &Event) -> AccountState {
    match event {
        Event::AccountCreated { name } => AccountState::Exists { name: name.clone() },
        _ => state,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_is_created_once() {
        let create = AccountCommand::Create {
            name: "acme".into(),
        };
        let events = decide(&AccountState::Absent, &create).unwrap();
        let state = events.iter().fold(AccountState::Absent, evolve);
        assert_eq!(
            state,
            AccountState::Exists {
                name: "acme".into()
            }
        );
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
}
