//! fake-pve: a fake Proxmox VE node reachable over SSH and SFTP.

pub mod backup;
pub mod cluster;
pub mod fixture;
pub mod fs;
pub mod guest;
pub mod host;
pub mod io;
pub mod locks;
pub mod node;
pub mod pct;
pub mod perl_json;
pub mod proc;
pub mod process;
pub mod programs;
pub mod pve;
pub mod pvecm;
pub mod pvesh;
pub mod pvesm;
pub mod qm;
pub mod reply;
pub mod sftp;
pub mod shell;
pub mod ssh;
#[cfg(test)]
mod test_support;
pub mod unix;
pub mod vm;
pub mod vzdump;
