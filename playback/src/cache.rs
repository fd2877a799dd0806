//! Recent media bytes kept in memory, so the many viewers at the live edge are served without
//! a store read each: least recently inserted goes first once the byte budget is exceeded.
//! Media objects never change once stored, so a cached copy is never stale.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

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

/// Keys recently found missing from the store, so a flood of requests for what is not there
/// costs a store read per key and `ttl`, not per request. Bounded: when full, the expired
/// entries go, and if none has expired, all of them (a miss is then looked up again).
pub struct RecentMisses {
    ttl: Duration,
    capacity: usize,
    seen: Mutex<HashMap<String, Instant>>,
}

impl RecentMisses {
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            ttl,
            capacity,
            seen: Mutex::default(),
        }
    }

    /// Whether `key` was found missing less than the TTL before `now`.
    pub fn contains(&self, key: &str, now: Instant) -> bool {
        let seen = self.seen.lock().expect("misses lock");
        seen.get(key)
            .is_some_and(|at| now.duration_since(*at) < self.ttl)
    }

    pub fn insert(&self, key: String, now: Instant) {
        let mut seen = self.seen.lock().expect("misses lock");
        if seen.len() >= self.capacity {
            seen.retain(|_, at| now.duration_since(*at) < self.ttl);
            if seen.len() >= self.capacity {
                seen.clear();
            }
        }
        seen.insert(key, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_miss_is_remembered_for_its_ttl_and_the_set_stays_bounded() {
        let misses = RecentMisses::new(Duration::from_secs(1), 3);
        let start = Instant::now();
        misses.insert("a".into(), start);
        assert!(misses.contains("a", start + Duration::from_millis(999)));
        assert!(!misses.contains("a", start + Duration::from_secs(1)));
        assert!(!misses.contains("b", start));
        for key in ["b", "c", "d", "e"] {
            misses.insert(key.into(), start);
        }
        assert!(misses.seen.lock().unwrap().len() <= 3);
        assert!(misses.contains("e", start));
    }

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
