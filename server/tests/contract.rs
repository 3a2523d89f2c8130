//! The public contract pinned: tool names, descriptions, input and output schemas and
//! annotations. A change here must be deliberate (`cargo insta review`).

use mcp_remote_exec::config::RawConfig;
use mcp_remote_exec::tools::RemoteExec;
use rmcp::ServiceExt;

#[tokio::test]
async fn tools_list_is_the_public_contract() {
    let config = RawConfig::from_pairs([
        ("I_ACCEPT_RISKS", "true"),
        ("HOST", "pve.example.lan"),
        ("SSH_PASSWORD", "unused"),
        ("HOME", "/root"),
        ("ENABLE_PROXMOX", "true"),
    ])
    .validate()
    .unwrap();
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        if let Ok(s) = RemoteExec::new(config).serve(server_io).await {
            let _ = s.waiting().await;
        }
    });
    let client = ().serve(client_io).await.unwrap();
    let mut tools = client.list_all_tools().await.unwrap();
    tools.sort_by(|a, b| a.name.cmp(&b.name));
    insta::assert_json_snapshot!(tools);
}
