//! What `/readyz` reports: the process is ready when its database and log answer and the
//! log-driven components its role runs (deciders, projector, command bus, ingest) are running.
//! A component that failed is restarted by its supervisor (see `app`) and is ready again once
//! it runs.

use std::sync::Mutex;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Component {
    Deciders,
    Projector,
    CommandBus,
    Ingest,
    Recorder,
    Webhooks,
    Retention,
    NodeMonitor,
    Playback,
    Analytics,
}

#[derive(Clone, Debug, Default)]
enum State {
    #[default]
    NotStarted,
    Running,
    Failed(String),
}

pub struct Readiness {
    /// The components this process runs, each with its state.
    states: Mutex<Vec<(Component, State)>>,
}

impl Readiness {
    /// Readiness of a process that runs `components`.
    pub fn of(components: &[Component]) -> Self {
        Self {
            states: Mutex::new(
                components
                    .iter()
                    .map(|component| (*component, State::NotStarted))
                    .collect(),
            ),
        }
    }

    fn set(&self, component: Component, state: State) {
        let mut states = self.states.lock().expect("readiness lock");
        let entry = states
            .iter_mut()
            .find(|(c, _)| *c == component)
            .expect("a component this process runs");
        entry.1 = state;
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
        for (component, state) in states {
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
        let components = [Component::Deciders, Component::Projector];
        let readiness = Readiness::of(&components);
        assert!(readiness.check().unwrap_err().contains("not started"));
        for component in components {
            readiness.started(component);
        }
        assert_eq!(readiness.check(), Ok(()));
        readiness.failed(Component::Projector, "database gone");
        assert_eq!(readiness.check(), Err("Projector: database gone".into()));
        readiness.started(Component::Projector);
        assert_eq!(readiness.check(), Ok(()));
    }
}
