"""Drives mcp-remote-exec against its embedded fake cluster with the official Python
MCP SDK.

Usage: python python_cluster_check.py PATH_TO_MCP_REMOTE_EXEC PATH_TO_cluster.toml

Starts `mcp-remote-exec --fake-pve=fixtures/cluster.toml` (three nodes; the server is
configured for the first one only), then: the guest and container lists name all three
nodes; `echo $((6*7))` in container 120 on the third node returns 42; 1 MiB of random
bytes goes into it and back with the same SHA-256; container 101 (stopped, on the
entry node) is migrated with `pct migrate` to the third node, after which its status
and start work through the same tools. The SDK validates every structured result
against the tool's outputSchema. Prints one line per check; exits non-zero on failure.
"""

import asyncio
import os
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from checks import call, check, exec_42, round_trip


async def main(binary, fixture):
    params = StdioServerParameters(
        command=binary,
        args=[f"--fake-pve={fixture}"],
        env={"PATH": os.environ.get("PATH", ""), "RUST_LOG": "warn"},
    )
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()

            r, s = await call(session, "proxmox_list_guests", {"response_format": "json"})
            nodes = {g.get("node") for g in s.get("guests", [])}
            check(not r.isError and nodes == {"pve1", "pve2", "pve3"},
                  f"the guest list names all three nodes ({sorted(n or '' for n in nodes)})")
            r, s = await call(session, "proxmox_list_containers", {"response_format": "json"})
            where = {c["ctid"]: c.get("node") for c in s.get("containers", [])}
            check(not r.isError and where.get(120) == "pve3" and where.get(110) == "pve2",
                  f"the container list gives each container's node ({where})")

            await exec_42(session, "container", {"ctid": 120}, "container 120 on pve3")

            await round_trip(session, "container", {"ctid": 120}, "container 120 on pve3")

            r, s = await call(session, "ssh_exec_command",
                              {"command": "pct migrate 101 pve3", "response_format": "json"})
            check(not r.isError and "migration finished successfully" in s.get("stdout", ""),
                  "pct migrate 101 pve3 on the entry node")
            r, s = await call(session, "proxmox_container_status", {"ctid": 101, "response_format": "json"})
            check(not r.isError and s.get("status") == "stopped", "status of 101, now on pve3: stopped")
            r, s = await call(session, "proxmox_start_container", {"ctid": 101})
            check(not r.isError, f"start 101 on pve3: {s.get('message')}")
            r, s = await call(session, "proxmox_container_status", {"ctid": 101, "response_format": "json"})
            check(s.get("status") == "running", "101 runs on pve3")
            r, s = await call(session, "proxmox_list_containers", {"response_format": "json"})
            where = {c["ctid"]: c.get("node") for c in s.get("containers", [])}
            check(where.get(101) == "pve3", "the list shows 101 on pve3")
    print("all checks passed", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
