//! Advisory file locks, as flock(2) keeps them: per file (one filesystem's path), many
//! shared holders or one exclusive holder. A lock belongs to a [`LockGuard`]; it is
//! released when the last clone of the guard is dropped, as a real lock goes with the
//! last descriptor of its open file, so a killed holder never leaves a lock behind.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

/// Which file: the filesystem (`None` for the host's, else the guest's vmid) and the
/// normalised absolute path in it.
pub type LockKey = (Option<u32>, String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Held {
    Shared(usize),
    Exclusive,
}

#[derive(Debug, Default)]
struct Table {
    held: Mutex<HashMap<LockKey, Held>>,
    released: Notify,
}

/// The locks of one host (its own filesystem and its guests'). Clones share them.
#[derive(Debug, Clone, Default)]
pub struct FileLocks(Arc<Table>);

/// A lock held; dropping it releases the lock and wakes the waiters.
#[derive(Debug)]
pub struct LockGuard {
    table: Arc<Table>,
    key: LockKey,
    shared: bool,
}

impl FileLocks {
    /// Takes the lock if no holder conflicts with it (flock's `LOCK_NB`).
    pub fn try_lock(&self, key: &LockKey, shared: bool) -> Option<LockGuard> {
        let mut held = self.0.held.lock().unwrap_or_else(|e| e.into_inner());
        let next = match (held.get(key), shared) {
            (None, true) => Held::Shared(1),
            (None, false) => Held::Exclusive,
            (Some(Held::Shared(n)), true) => Held::Shared(n + 1),
            (Some(_), _) => return None,
        };
        held.insert(key.clone(), next);
        Some(LockGuard {
            table: self.0.clone(),
            key: key.clone(),
            shared,
        })
    }

    /// Waits until the lock can be taken, then takes it.
    pub async fn lock(&self, key: &LockKey, shared: bool) -> LockGuard {
        loop {
            // Registered before the attempt, so a release in between is not missed.
            let released = self.0.released.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            if let Some(guard) = self.try_lock(key, shared) {
                return guard;
            }
            released.await;
        }
    }

    /// Whether anything holds a lock on `key` (for tests and the fixture's checks).
    pub fn is_locked(&self, key: &LockKey) -> bool {
        let held = self.0.held.lock().unwrap_or_else(|e| e.into_inner());
        held.contains_key(key)
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        let mut held = self.table.held.lock().unwrap_or_else(|e| e.into_inner());
        match held.get(&self.key).copied() {
            Some(Held::Shared(n)) if self.shared && n > 1 => {
                held.insert(self.key.clone(), Held::Shared(n - 1));
            }
            Some(_) => {
                held.remove(&self.key);
            }
            None => {}
        }
        drop(held);
        self.table.released.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(p: &str) -> LockKey {
        (None, p.to_string())
    }

    #[test]
    fn shared_holders_exclude_an_exclusive_one_until_the_last_is_gone() {
        let locks = FileLocks::default();
        let a = locks.try_lock(&key("/l"), true).expect("first shared");
        let b = locks.try_lock(&key("/l"), true).expect("second shared");
        assert!(locks.try_lock(&key("/l"), false).is_none());
        drop(a);
        assert!(locks.try_lock(&key("/l"), false).is_none());
        drop(b);
        let c = locks
            .try_lock(&key("/l"), false)
            .expect("exclusive once free");
        assert!(locks.try_lock(&key("/l"), true).is_none());
        assert!(locks.try_lock(&key("/other"), false).is_some());
        assert!(locks.try_lock(&(Some(100), "/l".into()), false).is_some());
        drop(c);
        assert!(!locks.is_locked(&key("/l")));
    }

    #[tokio::test]
    async fn a_waiter_gets_the_lock_when_it_is_released() {
        let locks = FileLocks::default();
        let held = locks.try_lock(&key("/l"), false).expect("free");
        let waiter = {
            let locks = locks.clone();
            tokio::spawn(async move { locks.lock(&key("/l"), false).await })
        };
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop(held);
        let got = tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .expect("the waiter is woken")
            .expect("the waiter's task");
        assert!(locks.is_locked(&key("/l")));
        drop(got);
        assert!(!locks.is_locked(&key("/l")));
    }
}
