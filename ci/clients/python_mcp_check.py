"""Drives mcp-remote-exec with the official Python MCP SDK (a client nobody here wrote).

Usage: python python_mcp_check.py PATH_TO_MCP_REMOTE_EXEC

Starts the server against its embedded fake-pve, lists the tools, and calls each kind
of tool. The SDK validates every structured result against the tool's outputSchema, so
a schema mismatch fails here. Prints one line per check; exits non-zero on failure.
"""

import asyncio
import json
import os
import sys
import tempfile

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


def check(cond, what):
    print(("ok    " if cond else "FAIL  ") + what, flush=True)
    if not cond:
        raise SystemExit(1)


async def main(binary):
    params = StdioServerParameters(
        command=binary,
        args=["--fake-pve"],
        env={"PATH": os.environ.get("PATH", ""), "RUST_LOG": "warn"},
    )
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            check(init.serverInfo.name == "mcp-remote-exec", "initialize: " + init.serverInfo.name)

            tools = {t.name: t for t in (await session.list_tools()).tools}
            check("ssh_exec_command" in tools, "tools/list has ssh_exec_command")
            check(all(t.outputSchema for t in tools.values()), "every tool declares an outputSchema")
            check(tools["ssh_exec_command"].annotations.destructiveHint is True, "exec is marked destructive")

            r = await session.call_tool("ssh_exec_command", {"command": "echo hi; exit 3"})
            check(r.isError is True, "non-zero exit is an error result")
            check(r.structuredContent["exit_code"] == 3, "structured exit_code 3")
            check(r.structuredContent["stdout"] == "hi\n", "structured stdout")

            r = await session.call_tool(
                "ssh_exec_command", {"command": "hostname", "response_format": "json"}
            )
            check(r.isError is False, "exec succeeds")
            check(json.loads(r.content[0].text)["stdout"] == "pve\n", "JSON text is valid JSON")

            r = await session.call_tool("ssh_exec_command", {"command": "ls", "timeout": 0})
            check(r.isError is True and "timeout" in r.structuredContent["error"], "bad argument is a tool error")

            r = await session.call_tool("ssh_exec_command", {"command": "true", "timeout": "30"})
            check(r.isError is False, "a timeout given as a string of digits is taken")
            r = await session.call_tool("ssh_exec_command", {"command": "true", "timeout": 9999.0})
            check(
                r.isError is False and "300 s was used" in r.structuredContent.get("note", ""),
                "a timeout above the maximum is clamped and the result says so",
            )

            with tempfile.TemporaryDirectory() as d:
                local = os.path.join(d, "f.txt")
                with open(local, "w") as f:
                    f.write("from python\n")
                r = await session.call_tool(
                    "ssh_upload_file", {"local_path": local, "remote_path": "/tmp/py.txt"}
                )
                check(r.isError is False and r.structuredContent["bytes_transferred"] == 12, "upload")
                back = os.path.join(d, "back.txt")
                r = await session.call_tool(
                    "ssh_download_file", {"remote_path": "/tmp/py.txt", "local_path": back}
                )
                check(r.isError is False and open(back).read() == "from python\n", "download")

            if "proxmox_list_containers" in tools:
                r = await session.call_tool("proxmox_list_containers", {})
                check(r.isError is False, "proxmox_list_containers")
                r = await session.call_tool("proxmox_container_status", {"ctid": 999})
                check(r.isError is True, "status of an absent container is an error")
    print("all checks passed")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
