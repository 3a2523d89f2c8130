//! The guest agent's `file-read` and `file-write` endpoints (qm-fidelity.md §11),
//! which pvesh reaches through the API: pvesh calls into the VM's agent
//! ([`crate::qm::agent`]), never the other way round.

use serde_json::{Map, Value};

use super::Endpoint;
use super::cli::{MAX_READ_SIZE, NOT_EMULATED};
use crate::proc::Ctx;
use crate::qm::agent::{latin1, ready};
use crate::qm::die;
use crate::reply::Reply;

/// A path as the agent opens it: relative to its working directory, `/`.
pub(crate) fn agent_path(file: &str) -> String {
    crate::proc::Ctx::resolve_in("/", file)
}

/// The agent's `file-read` and `file-write` endpoints (qm-fidelity.md §11), as pvesh
/// calls them: the result (none for file-write) and what the method warns on stderr,
/// or the error pvesh prints.
pub async fn file_endpoint(
    ctx: &Ctx,
    endpoint: &super::Endpoint,
) -> Result<(Option<Value>, String), Reply> {
    let (node, vmid) = match endpoint {
        Endpoint::AgentFileRead { node, vmid, .. }
        | Endpoint::AgentFileWrite { node, vmid, .. } => (node, *vmid),
        _ => unreachable!("only the agent's file endpoints come here"),
    };
    super::api::local_node(&ctx.host.state(), node)?;
    ready(&ctx.host, vmid).await.map_err(die)?;
    let mut state = ctx.host.state();
    let Some(vm) = state.vms.get_mut(&vmid) else {
        return Err(die(format!("VM {vmid} not running")));
    };
    match endpoint {
        Endpoint::AgentFileRead {
            file,
            count,
            offset,
            decode,
            ..
        } => {
            let path = agent_path(file);
            let data = match vm.fs.read(&path) {
                Ok(d) => d,
                Err(crate::fs::FsError::IsADirectory) => {
                    return Err(die("Agent error: failed to read file: Is a directory"));
                }
                Err(e) => {
                    return Err(die(format!(
                        "Agent error: failed to open file '{file}' (mode: 'r'): {e}"
                    )));
                }
            };
            // Agent.pm reads 1 MiB at a time until the count is reached or a read
            // comes back short (the end of the file).
            let want = count.unwrap_or(MAX_READ_SIZE) as usize;
            let start = usize::try_from(*offset)
                .unwrap_or(usize::MAX)
                .min(data.len());
            let mut pos = start;
            let mut eof = false;
            while pos - start < want && !eof {
                let ask = (want - (pos - start)).min(1024 * 1024);
                let got = ask.min(data.len() - pos);
                pos += got;
                eof = got < ask;
            }
            let content = &data[start..pos];
            let mut m = Map::new();
            m.insert("bytes-read".into(), content.len().into());
            let shown = if *decode {
                latin1(content)
            } else {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD.encode(content)
            };
            m.insert("content".into(), shown.into());
            let mut warning = String::new();
            if !eof {
                m.insert("truncated".into(), 1.into());
                if count.is_none() {
                    warning = format!(
                        "agent file-read: reached maximum read size: {MAX_READ_SIZE} bytes. output might be truncated.\n"
                    );
                }
            }
            Ok((Some(Value::Object(m)), warning))
        }
        Endpoint::AgentFileWrite {
            file,
            content,
            encode,
            ..
        } => {
            let bytes = if *encode {
                content.as_bytes().to_vec()
            } else {
                use base64::Engine;
                match base64::engine::general_purpose::STANDARD.decode(content) {
                    Ok(b) => b,
                    Err(_) => {
                        drop(state);
                        return Err(Reply::err(
                            "fake-pve: pvesh: file-write --encode 0 of content that is not base64 is not emulated\n",
                            NOT_EMULATED,
                        ));
                    }
                }
            };
            let path = agent_path(file);
            // Opened `wb`: created (0666 less the agent's umask 022) or truncated.
            vm.fs
                .open_for_write(&path, crate::fs::WriteMode::Truncate, 0o666, (0, 0))
                .and_then(|()| vm.fs.write_at(&path, 0, &bytes))
                .map_err(|e| {
                    die(format!(
                        "Agent error: failed to open file '{file}' (mode: 'wb'): {e}"
                    ))
                })?;
            Ok((None, String::new()))
        }
        _ => unreachable!("only the agent's file endpoints come here"),
    }
}
