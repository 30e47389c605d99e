"""newsqa makes no connection off this machine: ingest, an answer from the real local model, and the chat
server's start-up run under a Python audit hook that records every socket connect / send / name lookup
and refuses any that leaves loopback (127.0.0.0/8, ::1; Unix sockets are fine).

Audit hooks cannot be removed, so the work runs in a child process: this file run as a script
(``python tests/test_no_network.py <data dir> <port>``) prints a JSON report that the test checks.
The hook sees what Python code does (httpx, requests, urllib, gradio, posthog, huggingface_hub); native
code that opens its own sockets (llama.cpp's private 127.0.0.1 server) is not visible to it.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

_EVENTS = {
    "socket.connect",
    "socket.sendto",
    "socket.sendmsg",
    "socket.bind",
    "socket.getaddrinfo",
    "socket.gethostbyname",
}
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


def is_local(host: object) -> bool:
    """Whether a host (name, address string or bytes) stays on this machine."""
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    name = str(host).strip("[]").split("%")[0].lower()
    if name in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # any other name means a DNS lookup


def _target(event: str, args: tuple) -> tuple[bool, str]:
    """(stays local, description) for one audited socket event."""
    if event in ("socket.getaddrinfo", "socket.gethostbyname"):
        host = args[0]
        return host is None or is_local(host), f"{event} {host!r}"  # None: a local wildcard, no lookup
    sock, address = args[0], args[1]
    if getattr(sock, "family", None) == socket.AF_UNIX or isinstance(address, str | bytes):
        return True, f"{event} unix:{address!r}"
    if address is None:  # send on a connected socket: its peer was already checked at connect
        return True, f"{event} (connected)"
    return is_local(address[0]), f"{event} {address[0]}:{address[1]}"


def install_hook() -> tuple[list[str], list[str]]:
    """Install the audit hook for the rest of this process; return the (seen, refused) lists it fills.

    A refused event raises ``PermissionError`` inside the audited call, before any packet or lookup."""
    seen: list[str] = []
    refused: list[str] = []

    def hook(event: str, args: tuple) -> None:
        if event not in _EVENTS:
            return
        local, what = _target(event, args)
        if what not in seen:
            seen.append(what)
        if not local:
            refused.append(what)
            raise PermissionError(f"newsqa tried to reach the network: {what}")

    sys.addaudithook(hook)
    return seen, refused


def probe() -> None:
    """Show that the hook refuses off-machine targets: raise the audit events by hand (no socket is used,
    nothing is sent) and print which were refused."""
    install_hook()
    refused = []
    with socket.socket() as sock:
        for event, args in [
            ("socket.connect", (sock, ("192.0.2.1", 443))),
            ("socket.connect", (sock, ("127.0.0.1", 8080))),
            ("socket.getaddrinfo", ("example.org", 443, 0, 0, 0)),
            ("socket.getaddrinfo", ("localhost", 7860, 0, 0, 0)),
            ("socket.bind", (sock, ("0.0.0.0", 7860))),
        ]:
            try:
                sys.audit(event, *args)
            except PermissionError:
                refused.append(f"{event} {args[1][0] if event != 'socket.getaddrinfo' else args[0]}")
    print("REFUSED " + json.dumps(refused))


def child(data_dir: str, port: int) -> None:
    """Install the hook, then ingest, answer and start the chat; print a JSON report."""
    seen, refused = install_hook()
    repo = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(repo))

    import urllib.request

    from index.settings import Settings, use_offline_environment

    use_offline_environment()  # before anything else loads

    # isort: split
    from app import build_app
    from qa.answer import Engine

    engine = Engine(Settings(data_dir=Path(data_dir)))
    report = engine.ingestor().ingest([repo / "data" / "sample"], progress=False)
    answer = engine.ask("Where will the US–Russia talks be held?", style="short")  # stops at its [n]
    demo = build_app(engine)
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, share=False)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30) as response:
            page = response.status, len(response.read())
    finally:
        demo.close()
    print(
        "REPORT "
        + json.dumps(
            {
                "added": len(report.added),
                "answer": answer.text,
                "citations": [c.n for c in answer.citations],
                "model": answer.model,
                "page": page,
                "seen": seen,
                "refused": refused,
            }
        )
    )


@pytest.mark.slow
def test_ingest_ask_and_chat_start_stay_on_loopback(tmp_path: Path) -> None:
    from conftest import REPO, free_port

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("HF_HUB_OFFLINE", None)  # newsqa must set the offline switches itself
    env.pop("TRANSFORMERS_OFFLINE", None)
    env.pop("GRADIO_ANALYTICS_ENABLED", None)
    result = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), str(tmp_path / "data"), str(free_port())],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("REPORT ")]
    assert result.returncode == 0 and lines, (
        f"child failed:\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
    )
    report = json.loads(lines[-1].removeprefix("REPORT "))
    assert report["refused"] == [], report["refused"]
    assert report["added"] == 2
    assert "geneva" in report["answer"].lower() and report["citations"], report
    assert report["model"].startswith("Qwen2.5-Coder-1.5B")
    assert report["page"][0] == 200 and report["page"][1] > 0
    # the hook really watched: the answer's call to llama.cpp and the page request were seen
    assert sum(s.startswith("socket.connect 127.0.0.1:") for s in report["seen"]) >= 2, report["seen"]
    assert any(s.startswith("socket.bind 127.0.0.1:") for s in report["seen"]), report["seen"]


def test_the_hook_refuses_off_machine_targets() -> None:
    result = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--probe"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    refused = json.loads(result.stdout.split("REFUSED ", 1)[1])
    assert refused == ["socket.connect 192.0.2.1", "socket.getaddrinfo example.org", "socket.bind 0.0.0.0"]


def test_loopback_check() -> None:
    assert is_local("127.0.0.1") and is_local("127.3.4.5") and is_local("::1") and is_local("localhost")
    assert is_local(b"127.0.0.1") and is_local("[::1]") and not is_local("")
    assert not is_local("10.0.0.1") and not is_local("192.168.1.4") and not is_local("8.8.8.8")
    assert not is_local("example.org") and not is_local("::ffff:8.8.8.8") and not is_local("0.0.0.0")


if __name__ == "__main__":
    if sys.argv[1:] == ["--probe"]:
        probe()
    else:
        child(sys.argv[1], int(sys.argv[2]))
