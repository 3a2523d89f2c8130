"""Drives the VM tools of mcp-remote-exec with the official Python MCP SDK.

Usage: python python_vm_check.py PATH_TO_MCP_REMOTE_EXEC

Starts the server against its embedded fake-pve (the bundled fixture holds VM 200
`vm1`, running with its guest agent), then: lists the guests, runs `echo $((6*7))` in
the VM, moves 1 MiB of random bytes into the VM and back and compares the SHA-256,
shuts the VM down and starts it again. The SDK validates every structured result
against the tool's outputSchema. Prints one line per check; exits non-zero on failure.
"""

import asyncio
import os
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from checks import call, check, exec_42, round_trip


async def main(binary):
    params = StdioServerParameters(
        command=binary,
        args=["--fake-pve"],
        env={"PATH": os.environ.get("PATH", ""), "RUST_LOG": "warn"},
    )
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            names = {t.name for t in (await session.list_tools()).tools}
            check({"proxmox_list_guests", "proxmox_vm_exec_command"} <= names, "the VM tools are listed")

            r, s = await call(session, "proxmox_list_guests", {"response_format": "json"})
            kinds = {(g["vmid"], g["type"]) for g in s.get("guests", [])}
            check(not r.isError and (200, "qemu") in kinds and (100, "lxc") in kinds,
                  f"list guests: containers and VMs ({sorted(kinds)})")

            await exec_42(session, "vm", {"vmid": 200}, "the VM")

            await round_trip(session, "vm", {"vmid": 200}, "the VM")

            r, s = await call(session, "proxmox_shutdown_vm", {"vmid": 200, "timeout": 30})
            check(not r.isError and s.get("status") == "stopped" and s.get("forced") is False,
                  f"shutdown: {s.get('message')}")
            r, s = await call(session, "proxmox_start_vm", {"vmid": 200})
            check(not r.isError, f"start: {s.get('message')}")
            r, s = await call(session, "proxmox_vm_status", {"vmid": 200, "response_format": "json"})
            check(s.get("status") == "running", "running again")
    print("all checks passed", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
