//! The fake's process table: every command the shell runs is a "process" with a pid,
//! a session id and a way to be signalled, so `ps`, `pgrep`, `kill`, `pkill -s` and
//! `timeout` behave as on a real host — and tests can see what is still running.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::watch;

/// Signals the fake knows by name. Every one of them ends a process (no traps).
pub const SIGNALS: &[(&str, i32)] = &[
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("KILL", 9),
    ("USR1", 10),
    ("USR2", 12),
    ("PIPE", 13),
    ("ALRM", 14),
    ("TERM", 15),
];

/// Parses `TERM`, `SIGTERM`, `15` or `term` into a signal number.
pub fn parse_signal(s: &str) -> Option<i32> {
    if let Ok(n) = s.parse::<i32>() {
        return SIGNALS.iter().any(|(_, v)| *v == n).then_some(n);
    }
    let upper = s.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    SIGNALS.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

pub fn signal_name(n: i32) -> &'static str {
    SIGNALS
        .iter()
        .find(|(_, v)| *v == n)
        .map(|(name, _)| *name)
        .unwrap_or("TERM")
}

/// A snapshot of one process, for `ps` and for tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessInfo {
    pub pid: u32,
    pub ppid: u32,
    /// Session id: the pid of the session leader (the shell sshd started).
    pub sid: u32,
    /// Process group: the parent's, or its own once it makes one (`timeout` does).
    pub pgid: u32,
    pub user: String,
    /// The full command line, words joined by spaces.
    pub args: String,
    /// `None` on the host, `Some(ctid)` inside a container.
    pub container: Option<u32>,
}

impl ProcessInfo {
    /// The program name (`comm`).
    pub fn comm(&self) -> &str {
        let first = self.args.split(' ').next().unwrap_or("");
        first.rsplit('/').next().unwrap_or(first)
    }
}

struct Slot {
    info: ProcessInfo,
    started: Instant,
    kill: watch::Sender<Option<i32>>,
}

/// All processes of one fake host (containers' included). Cheap to clone.
#[derive(Clone)]
pub struct ProcessTable {
    inner: Arc<Mutex<Table>>,
}

struct Table {
    next_pid: u32,
    slots: BTreeMap<u32, Slot>,
}

/// Held by a running process; dropping it removes the process from the table.
pub struct ProcessGuard {
    table: ProcessTable,
    pub pid: u32,
    pub killed: watch::Receiver<Option<i32>>,
}

impl Drop for ProcessGuard {
    fn drop(&mut self) {
        self.table.lock().slots.remove(&self.pid);
    }
}

impl ProcessGuard {
    /// Resolves with the signal number once the process is signalled.
    pub async fn signalled(&mut self) -> i32 {
        loop {
            if let Some(sig) = *self.killed.borrow_and_update() {
                return sig;
            }
            if self.killed.changed().await.is_err() {
                // The table entry is gone: nobody can signal us any more.
                std::future::pending::<()>().await;
            }
        }
    }
}

impl std::fmt::Debug for ProcessTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessTable")
            .field("processes", &self.lock().slots.len())
            .finish()
    }
}

impl Default for ProcessTable {
    fn default() -> Self {
        Self::new()
    }
}

impl ProcessTable {
    pub fn new() -> Self {
        ProcessTable {
            inner: Arc::new(Mutex::new(Table {
                next_pid: 1000,
                slots: BTreeMap::new(),
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a process. `sid = None` makes it a session leader (`sid = pid`).
    pub fn spawn(
        &self,
        ppid: u32,
        sid: Option<u32>,
        user: &str,
        args: String,
        container: Option<u32>,
    ) -> ProcessGuard {
        let mut table = self.lock();
        let pid = table.next_pid;
        table.next_pid += 1;
        let pgid = match sid {
            None => pid,
            Some(_) => table.slots.get(&ppid).map_or(pid, |p| p.info.pgid),
        };
        let (tx, rx) = watch::channel(None);
        table.slots.insert(
            pid,
            Slot {
                info: ProcessInfo {
                    pid,
                    ppid,
                    sid: sid.unwrap_or(pid),
                    pgid,
                    user: user.to_string(),
                    args,
                    container,
                },
                started: Instant::now(),
                kill: tx,
            },
        );
        ProcessGuard {
            table: self.clone(),
            pid,
            killed: rx,
        }
    }

    /// What `execve` does to the table: the process keeps its pid, parent and session
    /// and gets a new command line.
    pub fn set_args(&self, pid: u32, args: String) {
        if let Some(slot) = self.lock().slots.get_mut(&pid) {
            slot.info.args = args;
        }
    }

    /// `setpgid(pid, pid)`: the process leads a new process group.
    pub fn set_pgid(&self, pid: u32) {
        if let Some(slot) = self.lock().slots.get_mut(&pid) {
            slot.info.pgid = pid;
        }
    }

    /// `setsid()`: the process leads a new session and process group.
    pub fn set_sid(&self, pid: u32) {
        if let Some(slot) = self.lock().slots.get_mut(&pid) {
            slot.info.sid = pid;
            slot.info.pgid = pid;
        }
    }

    /// Signals every process of a process group but `except`; how many were signalled.
    pub fn signal_group(&self, pgid: u32, sig: i32, except: u32) -> usize {
        let table = self.lock();
        let mut n = 0;
        for slot in table
            .slots
            .values()
            .filter(|s| s.info.pgid == pgid && s.info.pid != except)
        {
            slot.kill.send_replace(Some(sig));
            n += 1;
        }
        n
    }

    /// Sends a signal; false when no such process exists.
    pub fn signal(&self, pid: u32, sig: i32) -> bool {
        let table = self.lock();
        match table.slots.get(&pid) {
            Some(slot) => {
                slot.kill.send_replace(Some(sig));
                true
            }
            None => false,
        }
    }

    /// Whether process `pid` runs and was not signalled (a signalled one is as good as
    /// gone: it ends at its next step).
    pub fn is_alive(&self, pid: u32) -> bool {
        self.lock()
            .slots
            .get(&pid)
            .is_some_and(|s| s.kill.borrow().is_none())
    }

    pub fn get(&self, pid: u32) -> Option<ProcessInfo> {
        self.lock().slots.get(&pid).map(|s| s.info.clone())
    }

    /// Every process, sorted by pid.
    pub fn list(&self) -> Vec<ProcessInfo> {
        self.lock().slots.values().map(|s| s.info.clone()).collect()
    }

    /// Seconds since the process started.
    pub fn elapsed_secs(&self, pid: u32) -> u64 {
        self.lock()
            .slots
            .get(&pid)
            .map(|s| s.started.elapsed().as_secs())
            .unwrap_or(0)
    }

    /// Signals every process of a session; returns how many were signalled.
    pub fn signal_session(&self, sid: u32, sig: i32) -> usize {
        let table = self.lock();
        let mut n = 0;
        for slot in table.slots.values().filter(|s| s.info.sid == sid) {
            slot.kill.send_replace(Some(sig));
            n += 1;
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_parse_by_name_and_number() {
        assert_eq!(parse_signal("TERM"), Some(15));
        assert_eq!(parse_signal("SIGKILL"), Some(9));
        assert_eq!(parse_signal("9"), Some(9));
        assert_eq!(parse_signal("hup"), Some(1));
        assert_eq!(parse_signal("NOPE"), None);
    }

    #[tokio::test]
    async fn a_signalled_process_notices_and_leaves_the_table() {
        let table = ProcessTable::new();
        let mut guard = table.spawn(1, None, "root", "sleep 60".into(), None);
        let pid = guard.pid;
        assert_eq!(table.get(pid).unwrap().sid, pid);
        assert!(table.signal(pid, 15));
        assert_eq!(guard.signalled().await, 15);
        drop(guard);
        assert!(table.get(pid).is_none());
        assert!(!table.signal(pid, 15));
    }
}
