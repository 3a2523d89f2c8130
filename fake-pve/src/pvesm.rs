//! The `pvesm` emulator: `pvesm list <storage> [--content T] [--vmid N]` over the
//! node's storages (docs/backups.md §2). Other subcommands are refused loudly.

use crate::backup::{self, Storage};
use crate::host::State;
use crate::io::Io;
use crate::pct::cli::{Kind, Val, getopt};
use crate::proc::Ctx;
use crate::reply::Reply;

/// One volume of a storage.
struct Volume {
    volid: String,
    format: String,
    content: &'static str,
    size: u64,
    vmid: Option<u32>,
}

/// The backup formats pvesm recognises by file name.
const BACKUP_FORMATS: &[&str] = &[
    "tar", "tar.zst", "tar.gz", "tar.lzo", "tgz", "vma", "vma.zst", "vma.gz", "vma.lzo",
];

/// The backups in a directory storage's `dump/` folder.
fn backups(state: &State, st: &Storage) -> Vec<Volume> {
    let Some(dir) = st.dump_dir() else {
        return Vec::new();
    };
    let Ok(entries) = state.fs.list_dir(&dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, meta) in entries {
        if meta.is_dir() || !name.starts_with("vzdump-") {
            continue;
        }
        let Some(format) = BACKUP_FORMATS
            .iter()
            .filter(|f| name.ends_with(&format!(".{f}")))
            .max_by_key(|f| f.len())
        else {
            continue;
        };
        out.push(Volume {
            volid: format!("{}:backup/{name}", st.name),
            format: format.to_string(),
            content: "backup",
            size: meta.size,
            vmid: backup::vmid_of(&name),
        });
    }
    out
}

fn list(state: &State, args: &[String]) -> Reply {
    let got = getopt(args, &[("content", Kind::Value), ("vmid", Kind::Value)]);
    if !got.warnings.is_empty() {
        return Reply::err(
            format!(
                "fake-pve: pvesm list: {}(only --content and --vmid are emulated)\n",
                got.warnings.replace('\n', "; ")
            ),
            255,
        );
    }
    let one = |k: &str| match got.values.get(k) {
        Some(Val::One(v)) => Some(v.clone()),
        Some(Val::Many(v)) => v.last().cloned(),
        None => None,
    };
    let [name] = got.words.as_slice() else {
        return Reply::err(
            "400 not enough arguments\npvesm list <storage> [OPTIONS]\n",
            255,
        );
    };
    let Some(st) = backup::storage(name) else {
        return Reply::err(format!("storage '{name}' does not exist\n"), 255);
    };
    let vmid = match one("vmid") {
        Some(v) => match v.parse::<u32>() {
            Ok(n) => Some(n),
            Err(_) => {
                return Reply::err(
                    format!(
                        "400 Parameter verification failed.\nvmid: type check ('integer') failed - got '{v}'\npvesm list <storage> [OPTIONS]\n"
                    ),
                    255,
                );
            }
        },
        None => None,
    };
    let content = one("content");
    if let Some(c) = &content
        && c != "backup"
        && !st.holds(c)
    {
        // The storage holds no such content: an empty list.
    }
    let mut vols: Vec<Volume> = backups(state, st)
        .into_iter()
        .filter(|v| content.as_deref().is_none_or(|c| c == v.content))
        .filter(|v| vmid.is_none_or(|id| v.vmid == Some(id)))
        .collect();
    vols.sort_by_key(|v| v.volid.to_lowercase());
    let w = vols.iter().map(|v| v.volid.len()).max().unwrap_or(0).max(5);
    let s = vols
        .iter()
        .map(|v| v.size.to_string().len())
        .max()
        .unwrap_or(0)
        .max(4);
    let mut out = format!(
        "{:<w$} {:<7} {:<9} {:>s$} VMID\n",
        "Volid", "Format", "Type", "Size"
    );
    for v in vols {
        match v.vmid {
            Some(id) => out.push_str(&format!(
                "{:<w$} {:<7} {:<9} {:>s$} {id}\n",
                v.volid, v.format, v.content, v.size
            )),
            None => out.push_str(&format!(
                "{:<w$} {:<7} {:<9} {:>s$}\n",
                v.volid, v.format, v.content, v.size
            )),
        }
    }
    Reply::out(out)
}

/// Runs `pvesm <args…>`.
pub async fn run(ctx: &Ctx, args: &[String], io: &Io) -> i32 {
    let reply = match args.first().map(String::as_str) {
        Some("list") => list(&ctx.host.state(), &args[1..]),
        Some(other) => Reply::err(
            format!("fake-pve: pvesm {other} is not emulated (only pvesm list is)\n"),
            255,
        ),
        None => Reply::err("400 unable to parse command\n", 255),
    };
    reply.write(io).await
}
