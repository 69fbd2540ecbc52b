//! The one source of time for every decision the server makes.

use std::sync::Mutex;
use time::OffsetDateTime;

/// Anything that tells the current instant.
pub trait Clock: Send + Sync + 'static {
    /// The current instant, in UTC.
    fn now(&self) -> OffsetDateTime;
    /// `Some` when the clock can be moved (tests and `serve --fake-clock`).
    fn as_manual(&self) -> Option<&ManualClock> {
        None
    }
}

/// The operating system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that stands still until it is set.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<OffsetDateTime>,
}

impl ManualClock {
    pub fn new(now: OffsetDateTime) -> Self {
        ManualClock {
            now: Mutex::new(now.to_offset(time::UtcOffset::UTC)),
        }
    }

    pub fn set(&self, now: OffsetDateTime) {
        let mut guard = self.now.lock().unwrap_or_else(|e| e.into_inner());
        *guard = now.to_offset(time::UtcOffset::UTC);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }
    fn as_manual(&self) -> Option<&ManualClock> {
        Some(self)
    }
}
