//! The service clock. Every decision gets `now` from a [`Clock`]; production uses the system
//! clock, `diario serve --test-clock` a [`TestClock`] that can be moved from outside so the
//! deadlines (15 days, 1 day, 5 days) can be exercised end to end.

use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};

/// Where `now` comes from.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stands still until it is set. Clones share the same instant.
#[derive(Debug, Clone)]
pub struct TestClock {
    now: Arc<RwLock<DateTime<Utc>>>,
}

impl TestClock {
    pub fn new(now: DateTime<Utc>) -> Self {
        TestClock {
            now: Arc::new(RwLock::new(now)),
        }
    }

    pub fn set(&self, now: DateTime<Utc>) {
        match self.now.write() {
            Ok(mut guard) => *guard = now,
            Err(poisoned) => *poisoned.into_inner() = now,
        }
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        match self.now.read() {
            Ok(guard) => *guard,
            Err(poisoned) => *poisoned.into_inner(),
        }
    }
}
