//! Folded states kept by (stream, version). A stream's events never change and its versions
//! have no gaps, so a state folded up to version `v` stays exact for ever: loading a stream
//! again reads only the events after `v` (usually none) and folds them on. Wrong guesses cost
//! nothing: an append made on a stale state fails its expected version and is decided again.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Streams kept (least recently used evicted first, half at a time).
pub const DEFAULT_CAPACITY: usize = 2_000;

struct Slot {
    version: i64,
    state: Arc<dyn Any + Send + Sync>,
    used: u64,
}

#[derive(Default)]
struct Slots {
    streams: HashMap<String, Slot>,
    tick: u64,
}

/// A bounded cache of folded states of any kind, keyed by stream id. Cheap to clone (shared).
#[derive(Clone)]
pub struct StateCache {
    slots: Arc<Mutex<Slots>>,
    capacity: usize,
}

impl std::fmt::Debug for StateCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateCache")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl Default for StateCache {
    fn default() -> Self {
        StateCache::new(DEFAULT_CAPACITY)
    }
}

impl StateCache {
    pub fn new(capacity: usize) -> Self {
        StateCache {
            slots: Arc::new(Mutex::new(Slots::default())),
            capacity: capacity.max(1),
        }
    }

    /// The cached state of `stream` and its version, if any (of type `S`).
    pub fn get<S: Clone + Send + Sync + 'static>(&self, stream: &str) -> Option<(S, i64)> {
        let mut slots = self.slots.lock().ok()?;
        slots.tick += 1;
        let tick = slots.tick;
        let slot = slots.streams.get_mut(stream)?;
        slot.used = tick;
        let state = slot.state.downcast_ref::<S>()?.clone();
        Some((state, slot.version))
    }

    /// The cached state of `stream` and its version, shared rather than copied.
    pub fn get_shared<S: Send + Sync + 'static>(&self, stream: &str) -> Option<(Arc<S>, i64)> {
        let mut slots = self.slots.lock().ok()?;
        slots.tick += 1;
        let tick = slots.tick;
        let slot = slots.streams.get_mut(stream)?;
        slot.used = tick;
        let state = Arc::clone(&slot.state).downcast::<S>().ok()?;
        Some((state, slot.version))
    }

    /// Keeps `state` as `stream` at `version`, unless a later version is already kept.
    pub fn put<S: Send + Sync + 'static>(&self, stream: &str, version: i64, state: S) {
        self.put_shared(stream, version, Arc::new(state));
    }

    /// The state `held` (a share of what [`Self::get_shared`] gave) to change: the cache lets
    /// go of it if it still keeps this very state, so when no reader holds a share either it
    /// is handed over without a copy; else it is copied. The stream is then not kept until
    /// the next `put` (a reader meanwhile loads it from the store).
    pub fn take<S: Clone + Send + Sync + 'static>(&self, stream: &str, held: Arc<S>) -> S {
        if let Ok(mut slots) = self.slots.lock()
            && let Some(slot) = slots.streams.get(stream)
            && std::ptr::addr_eq(Arc::as_ptr(&slot.state), Arc::as_ptr(&held))
        {
            slots.streams.remove(stream);
        }
        Arc::unwrap_or_clone(held)
    }

    /// [`Self::put`] of a state shared with the caller.
    pub fn put_shared<S: Send + Sync + 'static>(&self, stream: &str, version: i64, state: Arc<S>) {
        let Ok(mut slots) = self.slots.lock() else {
            return;
        };
        slots.tick += 1;
        let used = slots.tick;
        if slots
            .streams
            .get(stream)
            .is_some_and(|s| s.version > version)
        {
            return;
        }
        slots.streams.insert(
            stream.to_owned(),
            Slot {
                version,
                state,
                used,
            },
        );
        if slots.streams.len() > self.capacity {
            let mut ticks: Vec<u64> = slots.streams.values().map(|s| s.used).collect();
            ticks.sort_unstable();
            let cut = ticks[ticks.len() / 2];
            slots.streams.retain(|_, s| s.used > cut);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_is_kept_by_stream_and_version_and_never_goes_back() {
        let cache = StateCache::new(10);
        cache.put("s", 2, vec![1, 2]);
        assert_eq!(cache.get::<Vec<i32>>("s"), Some((vec![1, 2], 2)));
        cache.put("s", 1, vec![1]);
        assert_eq!(cache.get::<Vec<i32>>("s"), Some((vec![1, 2], 2)));
        // Another type under the same key is a miss, not a panic.
        assert_eq!(cache.get::<String>("s"), None);
        assert_eq!(cache.get_shared::<String>("s"), None);
        let (shared, version) = cache.get_shared::<Vec<i32>>("s").expect("kept");
        assert_eq!((shared.as_slice(), version), (&[1, 2][..], 2));
    }

    #[test]
    fn a_state_taken_to_change_is_handed_over_without_a_copy_unless_shared() {
        let cache = StateCache::new(10);
        cache.put("s", 1, vec![1, 2]);
        let (held, _) = cache.get_shared::<Vec<i32>>("s").expect("kept");
        let buffer = held.as_ptr();
        let owned = cache.take("s", held);
        assert_eq!(owned.as_ptr(), buffer, "no copy: the cache let go of it");
        assert_eq!(
            cache.get::<Vec<i32>>("s"),
            None,
            "not kept until the next put"
        );
        cache.put("s", 2, owned);
        // A reader's share: the state is copied, and the cache keeps nothing stale.
        let (held, _) = cache.get_shared::<Vec<i32>>("s").expect("kept");
        let (reader, _) = cache.get_shared::<Vec<i32>>("s").expect("kept");
        let owned = cache.take("s", held);
        assert_ne!(owned.as_ptr(), reader.as_ptr(), "copied");
        assert_eq!(cache.get::<Vec<i32>>("s"), None);
        // A share of an older state leaves a newer one kept.
        cache.put("s", 3, vec![3]);
        let _ = cache.take("s", reader);
        assert_eq!(cache.get::<Vec<i32>>("s"), Some((vec![3], 3)));
    }

    #[test]
    fn the_cache_stays_within_its_capacity() {
        let cache = StateCache::new(4);
        for i in 0..20 {
            cache.put(&format!("s{i}"), 1, i);
        }
        let kept = (0..20)
            .filter(|i| cache.get::<i32>(&format!("s{i}")).is_some())
            .count();
        assert!(kept <= 4, "{kept} kept");
        assert_eq!(cache.get::<i32>("s19"), Some((19, 1)));
    }
}
