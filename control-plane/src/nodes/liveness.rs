//! Which nodes are alive: the last heartbeat of each, and the ones whose heartbeats stopped.
//! Pure: heartbeats and the clock come in as arguments.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};

use super::Heartbeat;

#[derive(Default)]
pub struct Liveness {
    /// Each node's last heartbeat, and whether it was declared lost since.
    nodes: HashMap<String, (Heartbeat, bool)>,
}

impl Liveness {
    /// A heartbeat arrived (a lost node that beats again is alive again).
    pub fn observe(&mut self, heartbeat: Heartbeat) {
        let newer = self
            .nodes
            .get(&heartbeat.node_id)
            .is_none_or(|(last, _)| last.sent_at <= heartbeat.sent_at);
        if newer {
            self.nodes
                .insert(heartbeat.node_id.clone(), (heartbeat, false));
        }
    }

    /// The nodes silent for longer than `timeout` at `now`, each declared once: their last
    /// heartbeats.
    pub fn lost(&mut self, now: DateTime<Utc>, timeout: Duration) -> Vec<Heartbeat> {
        self.nodes
            .values_mut()
            .filter(|(last, declared)| !*declared && now - last.sent_at > timeout)
            .map(|(last, declared)| {
                *declared = true;
                last.clone()
            })
            .collect()
    }

    /// Forgets the nodes of partitions this monitor no longer owns.
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.nodes.retain(|node, _| keep(node));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn beat(node: &str, at: DateTime<Utc>) -> Heartbeat {
        Heartbeat {
            node_id: node.into(),
            role: "worker".into(),
            sent_at: at,
            ingesting: Vec::new(),
        }
    }

    #[test]
    fn a_node_is_lost_once_after_its_heartbeats_stop_and_alive_when_they_return() {
        let t0: DateTime<Utc> = "2026-11-24T12:00:00Z".parse().unwrap();
        let timeout = Duration::seconds(10);
        let mut liveness = Liveness::default();
        liveness.observe(beat("a", t0));
        liveness.observe(beat("b", t0));
        liveness.observe(beat("b", t0 + Duration::seconds(8)));
        assert!(liveness
            .lost(t0 + Duration::seconds(10), timeout)
            .is_empty());
        let lost = liveness.lost(t0 + Duration::seconds(11), timeout);
        assert_eq!(
            lost.iter().map(|h| h.node_id.as_str()).collect::<Vec<_>>(),
            ["a"]
        );
        assert!(
            liveness
                .lost(t0 + Duration::seconds(12), timeout)
                .is_empty(),
            "declared once"
        );
        // An old heartbeat arriving late does not revive it; a new one does.
        liveness.observe(beat("a", t0 - Duration::seconds(1)));
        assert!(liveness
            .lost(t0 + Duration::seconds(30), timeout)
            .iter()
            .all(|h| h.node_id == "b"));
        liveness.observe(beat("a", t0 + Duration::seconds(40)));
        assert_eq!(liveness.lost(t0 + Duration::seconds(51), timeout).len(), 1);
    }
}
