//! What `/readyz` reports: the process is ready when its database and log answer and its
//! log-driven components (deciders, projector, command bus) are running. A component that
//! failed is restarted by its supervisor (see `app`) and is ready again once it runs.

use std::sync::Mutex;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Component {
    Deciders,
    Projector,
    CommandBus,
}

const COMPONENTS: [Component; 3] = [
    Component::Deciders,
    Component::Projector,
    Component::CommandBus,
];

#[derive(Clone, Debug, Default)]
enum State {
    #[default]
    NotStarted,
    Running,
    Failed(String),
}

#[derive(Default)]
pub struct Readiness {
    states: Mutex<[State; 3]>,
}

impl Readiness {
    fn set(&self, component: Component, state: State) {
        let index = COMPONENTS
            .iter()
            .position(|c| *c == component)
            .expect("a known component");
        self.states.lock().expect("readiness lock")[index] = state;
    }

    pub fn started(&self, component: Component) {
        self.set(component, State::Running);
    }

    /// The component stopped; it stays not ready until it runs again.
    pub fn failed(&self, component: Component, error: impl std::fmt::Display) {
        tracing::error!(?component, %error, "component failed");
        self.set(component, State::Failed(error.to_string()));
    }

    /// `Ok` when ready, else what is not.
    pub fn check(&self) -> Result<(), String> {
        let states = self.states.lock().expect("readiness lock").clone();
        for (component, state) in COMPONENTS.iter().zip(states) {
            match state {
                State::Running => {}
                State::NotStarted => return Err(format!("{component:?} not started")),
                State::Failed(error) => return Err(format!("{component:?}: {error}")),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_only_when_every_component_runs_and_again_after_a_restart() {
        let readiness = Readiness::default();
        assert!(readiness.check().unwrap_err().contains("not started"));
        for component in COMPONENTS {
            readiness.started(component);
        }
        assert_eq!(readiness.check(), Ok(()));
        readiness.failed(Component::Projector, "database gone");
        assert_eq!(readiness.check(), Err("Projector: database gone".into()));
        readiness.started(Component::Projector);
        assert_eq!(readiness.check(), Ok(()));
    }
}
