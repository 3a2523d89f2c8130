//! The Proxmox VE release a fake node plays (the fixture's `pve = 8 | 9`, default 9):
//! everything that tells one release from the other on a stock node, in one place.
//! The sources of each value are in docs/stock-nodes.md ("Proxmox VE 8 and 9").

/// How the SSH front end treats the `signal` channel request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalPolicy {
    /// OpenSSH before 9.8 (Proxmox VE 8): refused for root, honoured for others.
    RefuseRoot,
    /// OpenSSH 9.8 and later: honoured for everyone.
    Honour,
}

/// A Proxmox VE major release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pve {
    /// Proxmox VE 8: Debian 12, OpenSSH 9.2p1, pve-container 5.2, kernel 6.8.
    V8,
    /// Proxmox VE 9: Debian 13, OpenSSH 10.0p1, pve-container 6.1, kernel 6.14.
    #[default]
    V9,
}

impl Pve {
    /// The fixture's number for it.
    pub fn from_major(major: u64) -> Option<Pve> {
        match major {
            8 => Some(Pve::V8),
            9 => Some(Pve::V9),
            _ => None,
        }
    }

    /// pve-manager's version, release and repository id (`pveversion`, `/version`).
    pub fn manager(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Pve::V8 => ("8.4.21", "8.4", "2606ac850d46da29"),
            Pve::V9 => ("9.2.11", "9.2", "f6997e698c7933ea"),
        }
    }

    /// The running kernel: `uname -r` and `uname -v`.
    pub fn kernel(self) -> (&'static str, &'static str) {
        match self {
            Pve::V8 => (
                "6.8.12-4-pve",
                "#1 SMP PREEMPT_DYNAMIC PMX 6.8.12-4 (2024-11-06T15:04Z)",
            ),
            Pve::V9 => (
                "6.14.11-2-pve",
                "#1 SMP PREEMPT_DYNAMIC PMX 6.14.11-2 (2025-09-12T09:46Z)",
            ),
        }
    }

    /// sshd's identification string, as Debian's openssh-server sends it.
    pub fn ssh_banner(self) -> &'static str {
        match self {
            Pve::V8 => "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10",
            Pve::V9 => "SSH-2.0-OpenSSH_10.0p1 Debian-7+deb13u4",
        }
    }

    /// How that sshd answers a `signal` request: before OpenSSH 9.8 it refuses root's.
    pub fn signal_policy(self) -> SignalPolicy {
        match self {
            Pve::V8 => SignalPolicy::RefuseRoot,
            Pve::V9 => SignalPolicy::Honour,
        }
    }

    /// The line of pve-container's `PVE/CLI/pct.pm` that dies with `missing command`
    /// (`pct exec` without one) and the one refusing a pull from a stopped container.
    pub fn pct_lines(self) -> (u32, u32) {
        match self {
            Pve::V8 => (222, 608),
            Pve::V9 => (246, 664),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_release_is_one_consistent_node() {
        assert_eq!(Pve::default(), Pve::V9);
        assert_eq!(Pve::from_major(8), Some(Pve::V8));
        assert_eq!(Pve::from_major(7), None);
        for pve in [Pve::V8, Pve::V9] {
            let (version, release, repoid) = pve.manager();
            assert!(version.starts_with(release), "{version} {release}");
            assert_eq!(repoid.len(), 16);
            let (release_r, version_v) = pve.kernel();
            let abi = release_r.trim_end_matches("-pve");
            assert!(version_v.contains(&format!("PMX {abi} (")), "{version_v}");
        }
        assert_eq!(Pve::V8.signal_policy(), SignalPolicy::RefuseRoot);
        assert_eq!(Pve::V9.signal_policy(), SignalPolicy::Honour);
    }
}
