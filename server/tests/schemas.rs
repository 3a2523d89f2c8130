//! Every schema in tools/list is portable JSON Schema 2020-12 (a strict validator
//! accepts it, with no formats or keywords only some validators know), and every
//! structured result the tools return, successful or failed, fits its outputSchema.

use mcp_remote_exec::tools::schema::STANDARD_FORMATS;
use rmcp::model::Tool;
use serde_json::{Value, json};
use testkit::component::{FIXTURE, start_proxmox};

/// What a portable schema must not hold, as `path: problem` lines.
fn unportable(path: &str, v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            for (k, child) in o {
                let here = format!("{path}/{k}");
                match (k.as_str(), child) {
                    ("format", Value::String(f)) if !STANDARD_FORMATS.contains(&f.as_str()) => {
                        out.push(format!("{here}: non-standard format {f:?}"))
                    }
                    ("description" | "title", Value::String(t)) if t.contains('\n') => {
                        out.push(format!("{here}: a hard line break"))
                    }
                    ("$ref" | "$defs" | "definitions" | "nullable", _) => {
                        out.push(format!("{here}: `{k}` (inline it)"))
                    }
                    ("oneOf", Value::Array(items))
                        if items.iter().all(|i| i.get("const").is_some()) =>
                    {
                        out.push(format!("{here}: a oneOf of consts (use enum)"))
                    }
                    ("default" | "const" | "enum" | "examples", _) => {}
                    _ => unportable(&here, child, out),
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                unportable(&format!("{path}/{i}"), item, out);
            }
        }
        _ => {}
    }
}

#[tokio::test]
async fn every_schema_is_portable_and_every_result_fits_its_output_schema() {
    let fixture = format!(
        "{FIXTURE}\n[[vms]]\nvmid = 200\nname = \"vm1\"\nstatus = \"running\"\nagent = true\n\n[[vms]]\nvmid = 201\nname = \"vm2\"\nstatus = \"stopped\"\nagent = true\n"
    );
    let env = start_proxmox(&fixture, &[]).await;
    let tools: Vec<Tool> = env.client.list_all_tools().await.unwrap();
    assert_eq!(
        tools.len(),
        30,
        "{:?}",
        tools.iter().map(|t| &t.name).collect::<Vec<_>>()
    );
    let mut problems = Vec::new();
    for tool in &tools {
        let name = &tool.name;
        if tool.title.as_deref().is_none_or(str::is_empty) {
            problems.push(format!("{name}: no title"));
        }
        if tool
            .description
            .as_deref()
            .is_some_and(|d| d.contains('\n'))
        {
            problems.push(format!("{name}: a hard line break in the description"));
        }
        let input = Value::Object((*tool.input_schema).clone());
        let output = Value::Object(
            (**tool
                .output_schema
                .as_ref()
                .expect("every tool has an outputSchema"))
            .clone(),
        );
        for (which, schema) in [("inputSchema", &input), ("outputSchema", &output)] {
            if let Err(e) = jsonschema::meta::validate(schema) {
                problems.push(format!("{name} {which}: not valid JSON Schema: {e}"));
            }
            assert_eq!(
                schema["$schema"], "https://json-schema.org/draft/2020-12/schema",
                "{name} {which}"
            );
            unportable(&format!("{name} {which}"), schema, &mut problems);
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    let local = env.local_file("up.txt", "hello\n");
    let down = env.dir.path().join("down.txt");
    let down2 = env.dir.path().join("down2.txt");
    // Each tool at least once successfully and once failing, so both shapes are checked.
    let calls: Vec<(&str, Value, bool)> = vec![
        ("ssh_exec_command", json!({"command": "echo hi"}), true),
        (
            "ssh_exec_command",
            json!({"command": "exit 3", "response_format": "json"}),
            false,
        ),
        (
            "ssh_exec_command",
            json!({"command": "echo ok", "timeout": "30"}),
            true,
        ),
        (
            "ssh_exec_command",
            json!({"command": "echo ok", "timeout": 600.0}),
            true,
        ),
        ("ssh_exec_command", json!({"command": ""}), false),
        (
            "ssh_upload_file",
            json!({"local_path": local, "remote_path": "/tmp/up.txt"}),
            true,
        ),
        (
            "ssh_upload_file",
            json!({"local_path": local, "remote_path": "/tmp/up.txt"}),
            false,
        ),
        (
            "ssh_download_file",
            json!({"remote_path": "/tmp/up.txt", "local_path": down}),
            true,
        ),
        (
            "ssh_download_file",
            json!({"remote_path": "/nope", "local_path": down2}),
            false,
        ),
        ("proxmox_list_containers", json!({}), true),
        (
            "proxmox_list_containers",
            json!({"response_format": "json"}),
            true,
        ),
        ("proxmox_container_status", json!({"ctid": 100}), true),
        ("proxmox_container_status", json!({"ctid": 999}), false),
        (
            "proxmox_container_exec_command",
            json!({"ctid": "100", "command": "echo in"}),
            true,
        ),
        (
            "proxmox_container_exec_command",
            json!({"ctid": 101, "command": "echo in"}),
            false,
        ),
        ("proxmox_start_container", json!({"ctid": 101}), true),
        ("proxmox_start_container", json!({"ctid": 101}), false),
        ("proxmox_stop_container", json!({"ctid": 101}), true),
        ("proxmox_stop_container", json!({"ctid": 101}), false),
        (
            "proxmox_download_file_from_container",
            json!({"ctid": 100, "container_path": "/etc/app/app.conf", "local_path": env.dir.path().join("ct.conf")}),
            true,
        ),
        (
            "proxmox_download_file_from_container",
            json!({"ctid": 100, "container_path": "etc/app.conf", "local_path": env.dir.path().join("x")}),
            false,
        ),
        (
            "proxmox_upload_file_to_container",
            json!({"ctid": 100, "local_path": local, "container_path": "/tmp/up.txt"}),
            true,
        ),
        (
            "proxmox_upload_file_to_container",
            json!({"ctid": 100, "local_path": local, "container_path": "/tmp/up.txt"}),
            false,
        ),
        (
            "proxmox_snapshot_create",
            json!({"vmid": 102, "name": "s1", "description": "first"}),
            true,
        ),
        (
            "proxmox_snapshot_create",
            json!({"vmid": 102, "name": "s1"}),
            false,
        ),
        (
            "proxmox_snapshot_list",
            json!({"vmid": 102, "response_format": "json"}),
            true,
        ),
        ("proxmox_snapshot_list", json!({"vmid": 999}), false),
        (
            "proxmox_guest_metrics",
            json!({"vmid": 100, "timeframe": "hour", "response_format": "json"}),
            true,
        ),
        ("proxmox_guest_metrics", json!({"vmid": 999}), false),
        (
            "proxmox_snapshot_rollback",
            json!({"vmid": 102, "name": "s1", "stop_running": true, "start": true}),
            true,
        ),
        (
            "proxmox_snapshot_rollback",
            json!({"vmid": 102, "name": "s1"}),
            false,
        ),
        (
            "proxmox_snapshot_delete",
            json!({"vmid": 102, "name": "s1"}),
            true,
        ),
        (
            "proxmox_snapshot_delete",
            json!({"vmid": 102, "name": "s1"}),
            false,
        ),
        ("proxmox_reboot_container", json!({"ctid": 102}), true),
        ("proxmox_reboot_container", json!({"ctid": 101}), false),
        ("proxmox_shutdown_container", json!({"ctid": 102}), true),
        ("proxmox_shutdown_container", json!({"ctid": 102}), false),
        (
            "proxmox_backup_create",
            json!({"vmid": 101, "compress": "0"}),
            true,
        ),
        ("proxmox_backup_create", json!({"vmid": 999}), false),
        (
            "proxmox_backup_list",
            json!({"response_format": "json"}),
            true,
        ),
        ("proxmox_backup_list", json!({"storage": "nfs1"}), false),
        (
            "proxmox_backup_restore",
            json!({"archive": "local:backup/vzdump-lxc-101-2000_01_01-00_00_00.tar", "vmid": 301, "storage": "local-lvm"}),
            false,
        ),
        (
            "proxmox_list_guests",
            json!({"response_format": "json"}),
            true,
        ),
        (
            "proxmox_list_guests",
            json!({"response_format": "xml"}),
            false,
        ),
        ("proxmox_list_vms", json!({"response_format": "json"}), true),
        ("proxmox_list_vms", json!({"extra": 1}), false),
        ("proxmox_vm_status", json!({"vmid": 200}), true),
        ("proxmox_vm_status", json!({"vmid": 999}), false),
        (
            "proxmox_vm_exec_command",
            json!({"vmid": 200, "command": "echo in", "response_format": "json"}),
            true,
        ),
        (
            "proxmox_vm_exec_command",
            json!({"vmid": 201, "command": "echo in"}),
            false,
        ),
        (
            "proxmox_upload_file_to_vm",
            json!({"vmid": 200, "local_path": local, "vm_path": "/tmp/up.txt"}),
            true,
        ),
        (
            "proxmox_upload_file_to_vm",
            json!({"vmid": 200, "local_path": local, "vm_path": "/tmp/up.txt"}),
            false,
        ),
        (
            "proxmox_download_file_from_vm",
            json!({"vmid": 200, "vm_path": "/tmp/up.txt", "local_path": env.dir.path().join("vm.txt")}),
            true,
        ),
        (
            "proxmox_download_file_from_vm",
            json!({"vmid": 200, "vm_path": "/nope", "local_path": env.dir.path().join("vm2.txt")}),
            false,
        ),
        ("proxmox_start_vm", json!({"vmid": 201}), true),
        ("proxmox_start_vm", json!({"vmid": 201}), false),
        (
            "proxmox_reboot_vm",
            json!({"vmid": 201, "timeout": 30}),
            true,
        ),
        ("proxmox_reboot_vm", json!({"vmid": 999}), false),
        (
            "proxmox_shutdown_vm",
            json!({"vmid": 201, "timeout": 30}),
            true,
        ),
        ("proxmox_shutdown_vm", json!({"vmid": 201}), false),
        ("proxmox_stop_vm", json!({"vmid": 200}), true),
        ("proxmox_stop_vm", json!({"vmid": 200}), false),
    ];
    let mut called = std::collections::BTreeSet::new();
    for (tool, args, ok) in calls {
        let schema = tools.iter().find(|t| t.name == tool).unwrap();
        let output = Value::Object((**schema.output_schema.as_ref().unwrap()).clone());
        let validator = jsonschema::validator_for(&output).unwrap();
        let result = env.call(tool, args.clone()).await;
        let value = result
            .structured_content
            .clone()
            .unwrap_or_else(|| panic!("{tool} {args}: no structured content"));
        assert_eq!(
            result.is_error != Some(true),
            ok,
            "{tool} {args}: expected {}: {value}",
            if ok { "success" } else { "a failure" }
        );
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| e.to_string())
            .collect();
        assert!(
            errors.is_empty(),
            "{tool} {args}: {value}\n{}",
            errors.join("\n")
        );
        called.insert(tool);
    }
    assert_eq!(called.len(), tools.len(), "every tool was called");
}

#[tokio::test]
async fn a_clamped_timeout_is_said_in_the_result() {
    let env = start_proxmox(FIXTURE, &[]).await;
    let r = env
        .call(
            "ssh_exec_command",
            json!({"command": "echo ok", "timeout": 900, "response_format": "json"}),
        )
        .await;
    let v = testkit::structured(&r);
    assert_eq!(v["stdout"], "ok\n", "{v}");
    assert_eq!(
        v["note"], "timeout 900 s is above the maximum of 300 s; 300 s was used",
        "{v}"
    );
    let r = env
        .call(
            "proxmox_container_exec_command",
            json!({"ctid": 100, "command": "echo ok", "timeout": "1000"}),
        )
        .await;
    assert!(
        testkit::text(&r).contains("Note: timeout 1000 s is above the maximum of 300 s"),
        "{}",
        testkit::text(&r)
    );
    let r = env
        .call(
            "ssh_exec_command",
            json!({"command": "echo ok", "timeout": 2.5}),
        )
        .await;
    assert!(testkit::is_error(&r));
    assert!(
        testkit::text(&r).contains("2.5 is not a whole number of seconds"),
        "{}",
        testkit::text(&r)
    );
}
