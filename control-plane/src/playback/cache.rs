//! Recent media bytes kept in memory, so the many viewers at the live edge are served without
//! a store read each: least recently inserted goes first once the byte budget is exceeded.
//! Media objects never change once stored, so a cached copy is never stale.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use bytes::Bytes;

pub struct MediaCache {
    budget: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<String, Bytes>,
    order: VecDeque<String>,
    size: usize,
}

impl MediaCache {
    pub fn new(budget: usize) -> Self {
        Self {
            budget,
            inner: Mutex::default(),
        }
    }

    pub fn get(&self, key: &str) -> Option<Bytes> {
        self.inner
            .lock()
            .expect("cache lock")
            .entries
            .get(key)
            .cloned()
    }

    pub fn insert(&self, key: String, bytes: Bytes) {
        if bytes.len() > self.budget {
            return;
        }
        let mut inner = self.inner.lock().expect("cache lock");
        if inner.entries.contains_key(&key) {
            return;
        }
        inner.size += bytes.len();
        inner.order.push_back(key.clone());
        inner.entries.insert(key, bytes);
        while inner.size > self.budget {
            let Some(oldest) = inner.order.pop_front() else {
                break;
            };
            if let Some(evicted) = inner.entries.remove(&oldest) {
                inner.size -= evicted.len();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_entries_go_first_when_over_budget() {
        let cache = MediaCache::new(10);
        cache.insert("a".into(), Bytes::from_static(b"1234"));
        cache.insert("b".into(), Bytes::from_static(b"1234"));
        cache.insert("c".into(), Bytes::from_static(b"1234"));
        assert_eq!(cache.get("a"), None);
        assert_eq!(cache.get("b").as_deref(), Some(&b"1234"[..]));
        assert_eq!(cache.get("c").as_deref(), Some(&b"1234"[..]));
        cache.insert("huge".into(), Bytes::from_static(b"12345678901"));
        assert_eq!(
            cache.get("huge"),
            None,
            "an object over the whole budget is not cached"
        );
    }
}
