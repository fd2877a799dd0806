//! Audience analytics: the projection of the viewers topic into viewer spans ([`projection`]),
//! the reports the API and `/metrics` read from them ([`report`]), and the spans' retention
//! ([`retention`]). The arithmetic — span
//! merging, CCU series, the view rule — is the pure `sigma_shared::audience`.
//!
//! Depends on the read-model database and the projector; knows nothing of HTTP.

pub mod projection;
pub mod report;
pub mod retention;
