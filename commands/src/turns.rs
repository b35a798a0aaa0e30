//! Writes to one stream take turns within a process: the decide–append window of a command
//! holds its stream's turn, so colleagues saving on the same case at the same moment queue
//! instead of failing each other's expected version. Across processes the store's expected
//! version still decides, and the handler retries with a jittered backoff.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use tokio::sync::OwnedMutexGuard;

/// One lock per stream, kept only while someone holds or waits for it.
#[derive(Clone, Default)]
pub struct StreamTurns {
    inner: Arc<Mutex<Turns>>,
}

#[derive(Default)]
struct Turns {
    locks: HashMap<String, Weak<tokio::sync::Mutex<()>>>,
    prune_at: usize,
}

impl std::fmt::Debug for StreamTurns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamTurns").finish_non_exhaustive()
    }
}

impl StreamTurns {
    /// Waits for `stream`'s turn; the turn passes on when the guard is dropped.
    pub async fn take(&self, stream: &str) -> OwnedMutexGuard<()> {
        let lock = {
            let mut turns = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
            if turns.locks.len() >= turns.prune_at.max(1024) {
                turns.locks.retain(|_, w| w.strong_count() > 0);
                turns.prune_at = turns.locks.len() * 2;
            }
            match turns.locks.get(stream).and_then(Weak::upgrade) {
                Some(lock) => lock,
                None => {
                    let lock = Arc::new(tokio::sync::Mutex::new(()));
                    turns.locks.insert(stream.to_owned(), Arc::downgrade(&lock));
                    lock
                }
            }
        };
        lock.lock_owned().await
    }

    /// Streams with a live lock (tests).
    pub fn live(&self) -> usize {
        let turns = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        turns
            .locks
            .values()
            .filter(|w| w.strong_count() > 0)
            .count()
    }
}

/// The pause before attempt `attempt` (1-based) after a version conflict: full jitter over an
/// exponential ceiling (2 ms, 4 ms, … capped at 100 ms), so that writers of two processes on
/// one case do not collide again in step.
pub fn backoff(attempt: u32) -> Duration {
    use std::hash::{BuildHasher, RandomState};
    let ceiling_ms = (2u64 << attempt.min(6)).min(100);
    // Each RandomState has fresh keys: its hash of anything is a cheap pseudo-random number.
    let random = RandomState::new().hash_one(attempt);
    Duration::from_micros(random % (ceiling_ms * 1000 + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_stream_one_turn_other_streams_free() {
        let turns = StreamTurns::default();
        let held = turns.take("case-a").await;
        let other = tokio::time::timeout(Duration::from_millis(50), turns.take("case-b")).await;
        assert!(other.is_ok(), "another stream is not blocked");
        let same = tokio::time::timeout(Duration::from_millis(50), turns.take("case-a")).await;
        assert!(same.is_err(), "the same stream waits for its turn");
        drop(held);
        let again = tokio::time::timeout(Duration::from_millis(50), turns.take("case-a")).await;
        assert!(again.is_ok(), "the turn passes on");
        drop(again);
        drop(other);
        assert_eq!(turns.live(), 0, "no lock is kept once nobody holds it");
    }

    #[test]
    fn backoff_stays_under_its_ceiling() {
        for attempt in 1..12 {
            assert!(backoff(attempt) <= Duration::from_millis(100));
        }
        assert!(backoff(1) <= Duration::from_millis(4));
    }
}
