"""Drives mcp-remote-exec with the official Python MCP SDK (a client nobody here wrote).

Usage: python python_mcp_check.py PATH_TO_MCP_REMOTE_EXEC
       python python_mcp_check.py --http URL TOKEN

Starts the server against its embedded fake-pve (or, with --http, connects to one
served over streamable HTTP at URL with the bearer TOKEN), lists the tools, and calls
each kind of tool; over HTTP it then checks that a wrong and a missing token are refused. The SDK validates every structured result against the tool's outputSchema, so
a schema mismatch fails here. Prints one line per check; exits non-zero on failure.
"""

import asyncio
import json
import os
import sys
import tempfile
from contextlib import asynccontextmanager

import anyio
import httpx
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


def check(cond, what):
    print(("ok    " if cond else "FAIL  ") + what, flush=True)
    if not cond:
        raise SystemExit(1)


@asynccontextmanager
async def connect(args):
    """The client's streams: over HTTP for `--http URL TOKEN`, else the binary on stdio."""
    if args[0] == "--http":
        url, token = args[1], args[2]
        headers = {"Authorization": "Bearer " + token}
        async with create_mcp_http_client(headers=headers) as client:
            async with streamable_http_client(url, http_client=client) as (read, write, _):
                yield read, write
        return
    params = StdioServerParameters(
        command=args[0],
        args=["--fake-pve"],
        env={"PATH": os.environ.get("PATH", ""), "RUST_LOG": "warn"},
    )
    async with stdio_client(params) as (read, write):
        yield read, write


async def refused_status(url, headers):
    """The HTTP status that made the SDK's initialize fail, or None if it worked."""
    try:
        with anyio.fail_after(30):
            async with create_mcp_http_client(headers=headers) as client:
                async with streamable_http_client(url, http_client=client) as (read, write, _):
                    async with ClientSession(read, write) as session:
                        await session.initialize()
    except BaseException as e:  # raised from the SDK's task group: look inside
        for leaf in leaves(e):
            if isinstance(leaf, httpx.HTTPStatusError):
                return leaf.response.status_code
        raise
    return None


def leaves(e):
    if isinstance(e, BaseExceptionGroup):
        for inner in e.exceptions:
            yield from leaves(inner)
    else:
        yield e


async def main(args):
    http = args[0] == "--http"
    async with connect(args) as (read, write):
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

            check("proxmox_list_containers" in tools or not http, "the proxmox tools are listed")
            if "proxmox_list_containers" in tools:
                r = await session.call_tool("proxmox_list_containers", {})
                check(r.isError is False, "proxmox_list_containers")
                r = await session.call_tool("proxmox_container_status", {"ctid": 999})
                check(r.isError is True, "status of an absent container is an error")
    if http:
        url, token = args[1], args[2]
        for what, headers in [
            ("a wrong token", {"Authorization": "Bearer " + token + "x"}),
            ("no token", {}),
        ]:
            status = await refused_status(url, headers)
            check(status == 401, f"{what} is refused with 401 (got {status})")
    print("all checks passed")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
