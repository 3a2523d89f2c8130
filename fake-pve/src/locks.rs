//! Advisory file locks, as flock(2) keeps them: per file (one filesystem's path), many
//! shared holders or one exclusive holder. A lock belongs to a [`LockGuard`] and the
//! processes that hold it; it is released when the guard is dropped or when all of
//! them are gone, as a real lock goes with the last descriptor of its open file, so a
//! killed holder never leaves a lock behind.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

/// Which file: the filesystem (`None` for the host's, else the guest's vmid) and the
/// normalised absolute path in it.
pub type LockKey = (Option<u32>, String);

/// One holder of a lock: the processes whose descriptors hold it.
#[derive(Debug)]
struct Holder {
    id: u64,
    shared: bool,
    pids: Arc<Mutex<Vec<u32>>>,
}

#[derive(Debug, Default)]
struct Table {
    held: Mutex<HashMap<LockKey, Vec<Holder>>>,
    released: Notify,
    next: AtomicU64,
}

/// The locks of one host (its own filesystem and its guests'). Clones share them.
#[derive(Debug, Clone, Default)]
pub struct FileLocks(Arc<Table>);

/// A lock held; dropping it releases the lock and wakes the waiters. It is also free
/// once every process holding it is gone (as a killed process's descriptors close at
/// once), which `alive` tells when a lock is tried.
#[derive(Debug)]
pub struct LockGuard {
    table: Arc<Table>,
    key: LockKey,
    id: u64,
    pids: Arc<Mutex<Vec<u32>>>,
}

impl LockGuard {
    /// Another process holds the lock too (a child that inherited the descriptor).
    pub fn add_holder(&self, pid: u32) {
        self.pids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(pid);
    }
}

impl FileLocks {
    /// Takes the lock for process `pid` if no live holder conflicts with it (flock's
    /// `LOCK_NB`); `alive` says whether a process still runs.
    pub fn try_lock(
        &self,
        key: &LockKey,
        shared: bool,
        pid: u32,
        alive: &(dyn Fn(u32) -> bool + Sync),
    ) -> Option<LockGuard> {
        let mut held = self.0.held.lock().unwrap_or_else(|e| e.into_inner());
        let holders = held.entry(key.clone()).or_default();
        holders.retain(|h| {
            h.pids
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .any(|p| alive(*p))
        });
        if holders.iter().any(|h| !(h.shared && shared)) {
            return None;
        }
        let id = self.0.next.fetch_add(1, Ordering::Relaxed);
        let pids = Arc::new(Mutex::new(vec![pid]));
        holders.push(Holder {
            id,
            shared,
            pids: pids.clone(),
        });
        Some(LockGuard {
            table: self.0.clone(),
            key: key.clone(),
            id,
            pids,
        })
    }

    /// Waits until the lock can be taken, then takes it.
    pub async fn lock(
        &self,
        key: &LockKey,
        shared: bool,
        pid: u32,
        alive: &(dyn Fn(u32) -> bool + Sync),
    ) -> LockGuard {
        loop {
            // Registered before the attempt, so a release in between is not missed.
            let released = self.0.released.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            if let Some(guard) = self.try_lock(key, shared, pid, alive) {
                return guard;
            }
            // A holder that dies without its guard dropped yet is seen at the next
            // release, or within this bound.
            let _ = tokio::time::timeout(std::time::Duration::from_millis(50), released).await;
        }
    }

    /// Whether anything holds a lock on `key` (for tests).
    pub fn is_locked(&self, key: &LockKey) -> bool {
        let held = self.0.held.lock().unwrap_or_else(|e| e.into_inner());
        held.get(key).is_some_and(|h| !h.is_empty())
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        let mut held = self.table.held.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(holders) = held.get_mut(&self.key) {
            holders.retain(|h| h.id != self.id);
            if holders.is_empty() {
                held.remove(&self.key);
            }
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
        let a = locks
            .try_lock(&key("/l"), true, 1, &|_| true)
            .expect("first shared");
        let b = locks
            .try_lock(&key("/l"), true, 1, &|_| true)
            .expect("second shared");
        assert!(locks.try_lock(&key("/l"), false, 1, &|_| true).is_none());
        drop(a);
        assert!(locks.try_lock(&key("/l"), false, 1, &|_| true).is_none());
        drop(b);
        let c = locks
            .try_lock(&key("/l"), false, 1, &|_| true)
            .expect("exclusive once free");
        assert!(locks.try_lock(&key("/l"), true, 1, &|_| true).is_none());
        assert!(
            locks
                .try_lock(&key("/other"), false, 1, &|_| true)
                .is_some()
        );
        assert!(
            locks
                .try_lock(&(Some(100), "/l".into()), false, 1, &|_| true)
                .is_some()
        );
        drop(c);
        assert!(!locks.is_locked(&key("/l")));
    }

    #[tokio::test]
    async fn a_waiter_gets_the_lock_when_it_is_released() {
        let locks = FileLocks::default();
        let held = locks
            .try_lock(&key("/l"), false, 1, &|_| true)
            .expect("free");
        let waiter = {
            let locks = locks.clone();
            tokio::spawn(async move { locks.lock(&key("/l"), false, 2, &|_| true).await })
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

    #[test]
    fn a_lock_whose_holders_are_all_gone_is_free() {
        let locks = FileLocks::default();
        let held = locks
            .try_lock(&key("/l"), false, 10, &|_| true)
            .expect("free");
        held.add_holder(11);
        // 10 is gone, 11 still runs.
        assert!(
            locks
                .try_lock(&key("/l"), false, 12, &|p| p == 11)
                .is_none()
        );
        // Both gone: the lock is free though the guard is still about.
        let next = locks.try_lock(&key("/l"), false, 12, &|p| p == 12);
        assert!(next.is_some());
        drop(held);
        assert!(locks.is_locked(&key("/l")));
    }
}
