//! What `/readyz` reports: the process is ready when its database answers and its log-driven
//! components (deciders, projector, command bus) have started and none has failed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

#[derive(Default)]
pub struct Readiness {
    deciders: AtomicBool,
    projector: AtomicBool,
    command_bus: AtomicBool,
    failure: Mutex<Option<String>>,
}

#[derive(Clone, Copy, Debug)]
pub enum Component {
    Deciders,
    Projector,
    CommandBus,
}

impl Readiness {
    fn flag(&self, component: Component) -> &AtomicBool {
        match component {
            Component::Deciders => &self.deciders,
            Component::Projector => &self.projector,
            Component::CommandBus => &self.command_bus,
        }
    }

    pub fn started(&self, component: Component) {
        self.flag(component).store(true, Ordering::SeqCst);
    }

    /// A component stopped for good; the process stays up to say so.
    pub fn failed(&self, component: Component, error: impl std::fmt::Display) {
        tracing::error!(?component, %error, "component failed");
        self.flag(component).store(false, Ordering::SeqCst);
        *self.failure.lock().expect("readiness lock") = Some(format!("{component:?}: {error}"));
    }

    /// `Ok` when ready, else what is not.
    pub fn check(&self) -> Result<(), String> {
        if let Some(failure) = self.failure.lock().expect("readiness lock").clone() {
            return Err(failure);
        }
        for component in [
            Component::Deciders,
            Component::Projector,
            Component::CommandBus,
        ] {
            if !self.flag(component).load(Ordering::SeqCst) {
                return Err(format!("{component:?} not started"));
            }
        }
        Ok(())
    }
}
