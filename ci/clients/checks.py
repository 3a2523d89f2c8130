"""What the Python SDK clients in this folder share: one line per check, a tool call
returning its structured content, a command in a guest, and a verified round trip of
a file into a guest."""

import hashlib
import os
import tempfile


def check(cond, what):
    print(("ok    " if cond else "FAIL  ") + what, flush=True)
    if not cond:
        raise SystemExit(1)


async def call(session, tool, args):
    r = await session.call_tool(tool, args)
    return r, r.structuredContent or {}


async def exec_42(session, kind, guest, where):
    """`echo $((6*7))` in guest `guest` with the exec tool of `kind` ("container" or
    "vm"): it must print 42 and exit 0."""
    r, s = await call(session, f"proxmox_{kind}_exec_command",
                      {**guest, "command": "echo $((6*7))", "response_format": "json"})
    check(not r.isError and s.get("stdout") == "42\n" and s.get("exit_code") == 0,
          f"exec in {where}: {s.get('stdout')!r}, exit {s.get('exit_code')}")


async def round_trip(session, kind, guest, where):
    """1 MiB of random bytes into guest `guest` (a {"ctid": …} or {"vmid": …} dict) and
    back with the tools of `kind` ("container" or "vm"), SHA-256 compared both ways."""
    path_key = "container_path" if kind == "container" else "vm_path"
    with tempfile.TemporaryDirectory() as d:
        data = os.urandom(1 << 20)
        src, back = os.path.join(d, "up.bin"), os.path.join(d, "back.bin")
        with open(src, "wb") as f:
            f.write(data)
        want = hashlib.sha256(data).hexdigest()
        r, s = await call(session, f"proxmox_upload_file_to_{kind}",
                          {**guest, "local_path": src, path_key: "/root/round.bin"})
        check(not r.isError and s.get("sha256") == want,
              f"1 MiB uploaded into {where}, SHA-256 checked there")
        r, s = await call(session, f"proxmox_download_file_from_{kind}",
                          {**guest, path_key: "/root/round.bin", "local_path": back})
        with open(back, "rb") as f:
            got = hashlib.sha256(f.read()).hexdigest()
        check(not r.isError and got == want and s.get("sha256") == want,
              f"1 MiB downloaded from {where} with the same SHA-256")
