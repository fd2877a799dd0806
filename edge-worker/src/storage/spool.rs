//! Live media the object store did not take — it failed, timed out, or the local disk is down
//! to its reserve — held in memory up to a byte budget, served from here to this process's
//! players, and written to the store, oldest first, as soon as it takes them again.
//!
//! The budget is what bounds the outage a live stream rides through: at a few Mbit/s, the
//! default 256 MiB is minutes. Past it, a put fails and the publisher is disconnected (its
//! session then ends as any other whose publisher does not return); nothing is dropped that
//! was already announced.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use bytes::Bytes;

#[derive(Debug, thiserror::Error)]
#[error("the object store is failing and {budget} bytes of live media are already held in memory")]
pub struct SpoolFull {
    pub budget: usize,
}

pub struct MediaSpool {
    budget: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Store paths, oldest first.
    order: VecDeque<String>,
    objects: HashMap<String, Bytes>,
    size: usize,
}

impl MediaSpool {
    pub fn new(budget: usize) -> Self {
        Self {
            budget,
            inner: Mutex::default(),
        }
    }

    /// Holds `bytes` for `path` until [`MediaSpool::stored`] says the store has them.
    pub fn hold(&self, path: String, bytes: Bytes) -> Result<(), SpoolFull> {
        let mut inner = self.inner.lock().expect("spool lock");
        if inner.size.saturating_add(bytes.len()) > self.budget {
            return Err(SpoolFull {
                budget: self.budget,
            });
        }
        inner.size += bytes.len();
        if let Some(replaced) = inner.objects.insert(path.clone(), bytes) {
            inner.size -= replaced.len();
        } else {
            inner.order.push_back(path);
        }
        Ok(())
    }

    /// The bytes held for `path`, if any.
    pub fn get(&self, path: &str) -> Option<Bytes> {
        self.inner
            .lock()
            .expect("spool lock")
            .objects
            .get(path)
            .cloned()
    }

    /// The oldest object held.
    pub fn oldest(&self) -> Option<(String, Bytes)> {
        let inner = self.inner.lock().expect("spool lock");
        let path = inner.order.front()?;
        Some((path.clone(), inner.objects[path].clone()))
    }

    /// The store took `bytes` for `path`: they are no longer held — unless `path` was held
    /// again meanwhile with other bytes (a new init segment), which stay for the next flush.
    pub fn stored(&self, path: &str, bytes: &Bytes) {
        let mut inner = self.inner.lock().expect("spool lock");
        let same = inner
            .objects
            .get(path)
            .is_some_and(|held| held.as_ptr() == bytes.as_ptr() && held.len() == bytes.len());
        if !same {
            return;
        }
        inner.objects.remove(path);
        inner.size -= bytes.len();
        if inner.order.front().is_some_and(|oldest| oldest == path) {
            inner.order.pop_front();
        } else {
            inner.order.retain(|held| held != path);
        }
    }

    pub fn held_bytes(&self) -> usize {
        self.inner.lock().expect("spool lock").size
    }

    pub fn is_empty(&self) -> bool {
        self.inner.lock().expect("spool lock").objects.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_held_in_order_within_the_budget_until_stored() {
        let spool = MediaSpool::new(10);
        spool.hold("a".into(), Bytes::from_static(b"1234")).unwrap();
        spool.hold("b".into(), Bytes::from_static(b"5678")).unwrap();
        assert!(spool.hold("c".into(), Bytes::from_static(b"9ab")).is_err());
        assert_eq!(spool.held_bytes(), 8);
        assert_eq!(spool.get("b").as_deref(), Some(&b"5678"[..]));
        let (oldest, bytes) = spool.oldest().unwrap();
        assert_eq!(oldest, "a");
        spool.stored("a", &bytes);
        assert_eq!(spool.oldest().unwrap().0, "b");
        assert_eq!(spool.get("a"), None);
        spool.hold("c".into(), Bytes::from_static(b"9ab")).unwrap();
        for _ in 0..2 {
            let (path, bytes) = spool.oldest().unwrap();
            spool.stored(&path, &bytes);
        }
        assert!(spool.is_empty());
        assert_eq!(spool.held_bytes(), 0);
    }

    #[test]
    fn holding_a_path_again_replaces_it_and_outlives_the_flush_of_the_old_bytes() {
        let spool = MediaSpool::new(10);
        spool.hold("a".into(), Bytes::from_static(b"1234")).unwrap();
        let (_, flushed) = spool.oldest().unwrap();
        spool.hold("a".into(), Bytes::from_static(b"12")).unwrap();
        assert_eq!(spool.held_bytes(), 2);
        spool.stored("a", &flushed);
        assert_eq!(spool.get("a").as_deref(), Some(&b"12"[..]));
        let (_, newer) = spool.oldest().unwrap();
        spool.stored("a", &newer);
        assert!(spool.oldest().is_none());
    }
}
