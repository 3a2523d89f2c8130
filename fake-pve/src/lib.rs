//! fake-pve: a fake Proxmox VE node reachable over SSH and SFTP.

pub mod fs;
pub mod host;
pub mod io;
pub mod process;
pub mod sftp;
pub mod shell;
