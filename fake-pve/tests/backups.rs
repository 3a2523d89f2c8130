//! vzdump, pvesm list and pct restore on the fake node, driven by OpenSSH's `ssh`
//! (docs/backups.md).

use testkit::fake::{Fake, Output};

/// Asserts a successful run and returns its stdout lines.
fn lines(out: &Output) -> Vec<String> {
    assert_eq!(out.code, Some(0), "{out:?}");
    out.stdout.lines().map(str::to_string).collect()
}

/// `YYYY-MM-DD HH:MM:SS`.
fn is_time(s: &str) -> bool {
    s.len() == 19
        && s.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            10 => b == b' ',
            13 | 16 => b == b':',
            _ => b.is_ascii_digit(),
        })
}

/// Backs up container 100 and returns the archive's path.
async fn back_up_100(fake: &Fake) -> String {
    let out = lines(&fake.ssh("vzdump 100 --storage local").await);
    let at = |i: usize| out[i].as_str();
    assert_eq!(
        at(0),
        "INFO: starting new backup job: vzdump 100 --storage local"
    );
    assert_eq!(at(1), "INFO: Starting Backup of VM 100 (lxc)");
    assert!(is_time(
        at(2).strip_prefix("INFO: Backup started at ").unwrap()
    ));
    assert_eq!(
        &out[3..9],
        [
            "INFO: status = running",
            "INFO: CT Name: webserver",
            "INFO: including mount point rootfs ('/') in backup",
            "INFO: backup mode: snapshot",
            "INFO: ionice priority: 7",
            "INFO: create storage snapshot 'vzdump'",
        ]
    );
    let archive = at(9)
        .strip_prefix("INFO: creating vzdump archive '/var/lib/vz/dump/vzdump-lxc-100-")
        .and_then(|r| r.strip_suffix(".tar'"))
        .unwrap_or_else(|| panic!("{}", at(9)));
    assert_eq!(archive.len(), 19, "{archive}");
    let path = format!("/var/lib/vz/dump/vzdump-lxc-100-{archive}.tar");
    let size = fake.host().host_file(&path).expect("the archive").len();
    assert_eq!(
        at(10),
        format!(
            "INFO: Total bytes written: {size} ({}KiB, {}KiB/s)",
            size / 1024,
            size / 1024
        )
    );
    assert!(
        at(11).starts_with("INFO: archive file size: "),
        "{}",
        at(11)
    );
    assert_eq!(at(12), "INFO: cleanup temporary 'vzdump' snapshot");
    assert_eq!(at(13), "INFO: Finished Backup of VM 100 (00:00:00)");
    assert!(is_time(
        at(14).strip_prefix("INFO: Backup finished at ").unwrap()
    ));
    assert_eq!(at(15), "INFO: Backup job finished successfully");
    assert_eq!(out.len(), 16);
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vzdump_writes_a_real_archive_that_pvesm_lists_and_pct_restores() {
    let fake = Fake::start().await;
    let path = back_up_100(&fake).await;
    let name = path.rsplit('/').next().unwrap().to_string();

    // A real tar: the config first, then the container's files.
    let data = fake.host().host_file(&path).unwrap();
    let mut archive = tar::Archive::new(&data[..]);
    let mut names = Vec::new();
    let mut conf = String::new();
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        let p = e.path().unwrap().to_string_lossy().into_owned();
        if p == "./etc/vzdump/pct.conf" {
            std::io::Read::read_to_string(&mut e, &mut conf).unwrap();
        }
        names.push(p);
    }
    assert_eq!(names[..2], ["./etc/vzdump/", "./etc/vzdump/pct.conf"]);
    assert!(conf.contains("hostname: webserver\n"), "{conf}");
    assert!(names.contains(&"./etc/hostname".to_string()), "{names:?}");
    // And its log beside it; no temp left.
    let dump = fake.host().state().fs.list_dir("/var/lib/vz/dump").unwrap();
    let files: Vec<&str> = dump.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(files.contains(&name.replace(".tar", ".log").as_str()));

    let listed = fake.ssh("pvesm list local --content backup").await;
    let size = data.len();
    let volid = format!("local:backup/{name}");
    let w = volid.len();
    let s = size.to_string().len().max(4);
    assert_eq!(
        lines(&listed),
        [
            format!("{:<w$} Format  Type      {:>s$} VMID", "Volid", "Size"),
            format!("{volid} tar     backup    {size:>s$} 100"),
        ]
    );
    let by_id = fake.ssh("pvesm list local --vmid 101").await;
    assert_eq!(lines(&by_id), ["Volid Format  Type      Size VMID"]);

    // Restore to a new id: the original's files, its config, the new disk.
    let restored = fake
        .ssh(&format!("pct restore 300 {volid} --storage local-lvm"))
        .await;
    assert_eq!(
        lines(&restored),
        [
            format!("recovering backed-up configuration from '{volid}'"),
            format!("restoring '{volid}' now.."),
            format!("extracting archive '{path}'"),
            format!(
                "Total bytes read: {size} ({}KiB, {}KiB/s)",
                size / 1024,
                size / 1024
            ),
            "Detected container architecture: amd64".into(),
            "merging backed-up and given configuration..".into(),
        ]
    );
    let host = fake.host();
    assert_eq!(
        host.container_file(300, "/etc/hostname"),
        host.container_file(100, "/etc/hostname")
    );
    let config = fake.ssh("pct config 300").await;
    let config = lines(&config).join("\n");
    assert!(config.contains("hostname: webserver"), "{config}");
    assert!(
        config.contains("rootfs: local-lvm:vm-300-disk-0,size="),
        "{config}"
    );
    assert_eq!(
        lines(&fake.ssh("pct status 300").await),
        ["status: stopped"]
    );

    // Refusals, before anything is changed.
    let again = fake
        .ssh(&format!("pct restore 300 {volid} --storage local-lvm"))
        .await;
    assert_eq!(again.code, Some(255));
    assert_eq!(again.stderr, "CT 300 already exists on node 'pve'\n");
    let no_storage = fake.ssh(&format!("pct restore 301 {volid}")).await;
    assert_eq!(no_storage.code, Some(255));
    assert!(
        no_storage.stderr.starts_with(
            "400 Parameter verification failed.\nstorage: storage 'local' does not support container directories\n"
        ),
        "{no_storage:?}"
    );
    // One vmid space: a VM's id is taken, --force or not.
    for force in ["", " --force 1"] {
        let onto_vm = fake
            .ssh(&format!(
                "pct restore 200 {volid} --storage local-lvm{force}"
            ))
            .await;
        assert_eq!(onto_vm.code, Some(255));
        assert_eq!(onto_vm.stderr, "VM 200 already exists on node 'pve'\n");
    }
    assert!(fake.host().vm(200).is_some());
    let running = fake
        .ssh(&format!(
            "pct restore 100 {volid} --storage local-lvm --force 1"
        ))
        .await;
    assert_eq!(running.stderr, "can't overwrite running container\n");
    let missing = fake
        .ssh("pct restore 301 local:backup/nope.tar --storage local-lvm")
        .await;
    assert_eq!(
        missing.stderr,
        "volume 'local:backup/nope.tar' does not exist\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vzdump_failures_and_what_it_does_not_emulate() {
    let fake = Fake::start().await;
    // A stopped container: stop mode, said before the name.
    let out = lines(&fake.ssh("vzdump 101").await);
    assert_eq!(
        &out[3..7],
        [
            "INFO: status = stopped",
            "INFO: backup mode: stop",
            "INFO: ionice priority: 7",
            "INFO: CT Name: database",
        ]
    );
    // A failing guest: the job goes on, then fails as a whole.
    let failed = fake.ssh("vzdump 999 102").await;
    assert_eq!(failed.code, Some(255));
    assert_eq!(failed.stderr, "job errors\n");
    assert!(
        failed
            .stdout
            .contains("ERROR: Backup of VM 999 failed - unable to find VM '999'\nINFO: Failed at ")
    );
    assert!(
        failed
            .stdout
            .contains("INFO: Finished Backup of VM 102 (00:00:00)\n")
    );
    assert!(
        failed
            .stdout
            .ends_with("INFO: Backup job finished with errors\n")
    );
    fake.host().set_lock(102, Some("snapshot"));
    let locked = fake.ssh("vzdump 102").await;
    assert!(
        locked
            .stdout
            .contains("ERROR: Backup of VM 102 failed - CT is locked (snapshot)\n")
    );

    for (line, says) in [
        (
            "vzdump 100 --compress zstd",
            "fake-pve: vzdump --compress zstd is not emulated",
        ),
        (
            "vzdump 100 --mode stop",
            "fake-pve: --mode stop of a running container is not emulated",
        ),
        (
            "vzdump 100 --pool x",
            "fake-pve: vzdump: Unknown option: pool",
        ),
        (
            "vzdump 100 --storage nope",
            "could not get storage information for 'nope': storage 'nope' does not exist",
        ),
        (
            "vzdump 100 --storage local-lvm",
            "can't use storage 'local-lvm' for backups - wrong content type",
        ),
        ("pvesm status", "fake-pve: pvesm status is not emulated"),
        ("pvesm list nope", "storage 'nope' does not exist"),
    ] {
        let out = fake.ssh(line).await;
        assert_ne!(out.code, Some(0), "{line}");
        assert!(
            out.stderr.contains(says) || out.stdout.contains(says),
            "{line}: {out:?}"
        );
    }
}

/// Backs up VM 200 (running, its agent answering) and returns the archive's path.
async fn back_up_200(fake: &Fake) -> String {
    let out = lines(&fake.ssh("vzdump 200 --storage local --compress 0").await);
    let at = |i: usize| out[i].as_str();
    assert_eq!(
        at(0),
        "INFO: starting new backup job: vzdump 200 --storage local --compress 0"
    );
    assert_eq!(at(1), "INFO: Starting Backup of VM 200 (qemu)");
    assert!(is_time(
        at(2).strip_prefix("INFO: Backup started at ").unwrap()
    ));
    assert_eq!(at(3), "INFO: status = running");
    assert_eq!(at(4), "INFO: VM Name: vm1");
    assert!(
        at(5).starts_with("INFO: include disk 'scsi0' 'local-lvm:vm-200-disk-0' "),
        "{}",
        at(5)
    );
    assert_eq!(
        &out[6..8],
        ["INFO: backup mode: snapshot", "INFO: ionice priority: 7"]
    );
    let stamp = at(8)
        .strip_prefix("INFO: creating vzdump archive '/var/lib/vz/dump/vzdump-qemu-200-")
        .and_then(|r| r.strip_suffix(".vma'"))
        .unwrap_or_else(|| panic!("{}", at(8)));
    assert_eq!(stamp.len(), 19, "{stamp}");
    assert_eq!(
        &out[9..12],
        [
            "INFO: issuing guest-agent 'fs-freeze' command",
            "INFO: starting backup via QMP command",
            "INFO: issuing guest-agent 'fs-thaw' command",
        ]
    );
    assert!(
        at(12).starts_with("INFO: started backup task '"),
        "{}",
        at(12)
    );
    assert_eq!(at(13), "INFO: resuming VM again");
    assert!(at(14).starts_with("INFO: 100% ("), "{}", at(14));
    assert!(at(15).starts_with("INFO: backup is sparse: "), "{}", at(15));
    assert!(at(16).starts_with("INFO: transferred "), "{}", at(16));
    assert!(
        at(17).starts_with("INFO: archive file size: "),
        "{}",
        at(17)
    );
    assert_eq!(at(18), "INFO: Finished Backup of VM 200 (00:00:00)");
    assert!(is_time(
        at(19).strip_prefix("INFO: Backup finished at ").unwrap()
    ));
    assert_eq!(at(20), "INFO: Backup job finished successfully");
    assert_eq!(out.len(), 21);
    format!("/var/lib/vz/dump/vzdump-qemu-200-{stamp}.vma")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vm_backup_is_listed_and_qmrestore_brings_it_back() {
    let fake = Fake::start().await;
    let path = back_up_200(&fake).await;
    let name = path.rsplit('/').next().unwrap().to_string();
    let volid = format!("local:backup/{name}");
    // Still running; the lock is gone; the log is beside the archive.
    assert_eq!(lines(&fake.ssh("qm status 200").await), ["status: running"]);
    assert!(fake.host().vm(200).unwrap().lock.is_none());
    let log = fake
        .host()
        .host_file(&path.replace(".vma", ".log"))
        .expect("the log");
    assert!(String::from_utf8_lossy(&log).contains("INFO: Starting Backup of VM 200 (qemu)\n"));

    let size = fake.host().host_file(&path).unwrap().len();
    let listed = fake
        .ssh("pvesm list local --content backup --vmid 200")
        .await;
    let w = volid.len();
    let s = size.to_string().len().max(4);
    assert_eq!(
        lines(&listed),
        [
            format!("{:<w$} Format  Type      {:>s$} VMID", "Volid", "Size"),
            format!("{volid} vma     backup    {size:>s$} 200"),
        ]
    );

    // Change a file in the guest, then restore over it.
    let original = fake
        .host()
        .vm_file(200, "/etc/hostname")
        .expect("a hostname");
    let out = fake
        .ssh("qm guest exec 200 -- sh -c 'echo changed > /etc/hostname'")
        .await;
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(
        fake.host().vm_file(200, "/etc/hostname").unwrap(),
        b"changed\n"
    );
    let before = fake.host().vm_file(200, "/etc/hostname");
    let refused = fake.ssh(&format!("qmrestore {volid} 200")).await;
    assert_eq!(refused.code, Some(255));
    assert_eq!(
        refused.stderr,
        "unable to restore VM 200 - VM 200 already exists on node 'pve'\n"
    );
    let running = fake.ssh(&format!("qmrestore {volid} 200 --force")).await;
    assert_eq!(running.code, Some(255));
    assert_eq!(
        running.stdout,
        "error before or during data restore, some or all disks were not completely restored. VM 200 state is NOT cleaned up.\n"
    );
    assert_eq!(running.stderr, "unable to restore VM 200 - vm is running\n");
    assert_eq!(fake.host().vm_file(200, "/etc/hostname"), before);

    lines(&fake.ssh("qm stop 200").await);
    let out = lines(&fake.ssh(&format!("qmrestore {volid} 200 --force 1")).await);
    assert!(
        out[0].starts_with("restore vma archive: vma extract -v -r /var/tmp/vzdumptmp"),
        "{out:?}"
    );
    assert!(out[0].contains(&format!(".fifo {path} /var/tmp/vzdumptmp")));
    assert!(out[1].starts_with("CFG: size: ") && out[1].ends_with(" name: qemu-server.conf"));
    assert!(
        out[2].starts_with("DEV: dev_id=1 size: ") && out[2].ends_with(" devname: drive-scsi0")
    );
    assert_eq!(
        &out[3..],
        [
            "new volume ID is 'local-lvm:vm-200-disk-0'",
            "map 'drive-scsi0' to '/dev/pve/vm-200-disk-0' (write zeros = 0)",
            &format!(
                "progress 100% (read {} bytes, duration 0 sec)",
                out[2]["DEV: dev_id=1 size: ".len()..]
                    .split(' ')
                    .next()
                    .unwrap()
            ),
            "rescan volumes...",
        ]
    );
    assert_eq!(fake.host().vm_file(200, "/etc/hostname").unwrap(), original);
    assert_eq!(lines(&fake.ssh("qm status 200").await), ["status: stopped"]);

    // To a new id, started: the disks renamed for it.
    let out = lines(
        &fake
            .ssh(&format!(
                "qmrestore {volid} 300 --storage local-lvm --unique --start 1"
            ))
            .await,
    );
    assert_eq!(out.last().unwrap(), "Execute autostart");
    assert!(out.contains(&"new volume ID is 'local-lvm:vm-300-disk-0'".to_string()));
    assert_eq!(lines(&fake.ssh("qm status 300").await), ["status: running"]);
    let vm = fake.host().vm(300).unwrap();
    assert!(vm.config["scsi0"].starts_with("local-lvm:vm-300-disk-0,"));
    assert_eq!(vm.config["name"], "vm1");
    assert_ne!(
        vm.config["net0"],
        fake.host().vm(200).unwrap().config["net0"]
    );
    assert_eq!(
        fake.host().vm_file(300, "/etc/hostname"),
        fake.host().vm_file(200, "/etc/hostname")
    );

    // The wrong kind of archive or guest.
    let ct = fake.ssh(&format!("qmrestore {volid} 100 --force")).await;
    assert_eq!(
        ct.stderr,
        "unable to restore VM 100 - CT 100 already exists on node 'pve'\n"
    );
    let pct = fake
        .ssh(&format!("pct restore 301 {volid} --storage local-lvm"))
        .await;
    assert_eq!(pct.code, Some(255));
    assert_eq!(
        pct.stderr,
        format!("fake-pve: pct restore of a VM's backup ('{volid}') is not emulated\n")
    );
    let ct_archive = fake.ssh("vzdump 101 --storage local").await;
    assert_eq!(ct_archive.code, Some(0), "{ct_archive:?}");
    let lxc = fake
        .host()
        .host_files()
        .into_iter()
        .find(|f| f.contains("vzdump-lxc-101-") && f.ends_with(".tar"))
        .unwrap();
    let out = fake.ssh(&format!("qmrestore {lxc} 302")).await;
    assert_eq!(out.code, Some(255));
    assert!(
        out.stderr.starts_with("fake-pve: qmrestore of '"),
        "{out:?}"
    );
    assert!(out.stderr.ends_with(" is not emulated\n"), "{out:?}");
}
