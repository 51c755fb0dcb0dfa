//! Login rate limiting: after `MAX_FAILURES` failed logins within the
//! window, from one address or for one username, further attempts are
//! refused (429) until the window passes. In memory: a restart forgets,
//! which only helps a legitimate user who locked themselves out.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed per key and window.
pub const MAX_FAILURES: usize = 10;
/// The window.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);

/// Failed-login counters by address and by username.
#[derive(Default)]
pub struct LoginLimiter {
    failures: Mutex<HashMap<String, Vec<Instant>>>,
}

impl LoginLimiter {
    fn keys(source: &str, username: &str) -> [String; 2] {
        [
            format!("ip:{source}"),
            format!("user:{}", username.to_lowercase()),
        ]
    }

    /// Whether another attempt is allowed now.
    pub fn allowed(&self, source: &str, username: &str) -> bool {
        let now = Instant::now();
        let Ok(mut map) = self.failures.lock() else {
            return false;
        };
        Self::keys(source, username).iter().all(|k| {
            let v = map.entry(k.clone()).or_default();
            v.retain(|t| now.duration_since(*t) < WINDOW);
            v.len() < MAX_FAILURES
        })
    }

    /// Counts a failure.
    pub fn failed(&self, source: &str, username: &str) {
        let now = Instant::now();
        if let Ok(mut map) = self.failures.lock() {
            for k in Self::keys(source, username) {
                map.entry(k).or_default().push(now);
            }
            // Bound memory under a spray of random usernames.
            if map.len() > 100_000 {
                map.retain(|_, v| v.iter().any(|t| now.duration_since(*t) < WINDOW));
            }
        }
    }

    /// Clears the username's counter after a successful login.
    pub fn succeeded(&self, username: &str) {
        if let Ok(mut map) = self.failures.lock() {
            map.remove(&format!("user:{}", username.to_lowercase()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_the_limit_per_user_and_per_address() {
        let l = LoginLimiter::default();
        for _ in 0..MAX_FAILURES {
            assert!(l.allowed("10.0.0.1", "ann"));
            l.failed("10.0.0.1", "ann");
        }
        assert!(!l.allowed("10.0.0.1", "ann"));
        assert!(!l.allowed("10.0.0.2", "ANN"), "same user from elsewhere");
        assert!(!l.allowed("10.0.0.1", "bob"), "same address, other user");
        assert!(l.allowed("10.0.0.2", "bob"));
    }
}
