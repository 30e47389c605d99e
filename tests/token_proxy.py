"""A small reverse proxy on 127.0.0.1 in front of a ``chroma run`` server that checks a bearer token and can
speak TLS, since this version's ``chroma run`` (the Rust server) has neither authentication nor TLS.

A request without ``Authorization: Bearer <token>`` gets 401 with Chroma's own error body; others are
forwarded unchanged to the upstream server."""

from __future__ import annotations

import json
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "content-encoding"}


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (and its key), made by ``openssl``; the certificate is its own CA."""
    import shutil

    import pytest

    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed (Debian package openssl) to make the test certificate")
    cert, key = folder / "proxy.crt", folder / "proxy.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


class TokenProxy:
    """``with TokenProxy(upstream_port, token, cert=(crt, key)) as proxy:`` serves on ``proxy.port``."""

    def __init__(self, upstream_port: int, token: str, cert: tuple[Path, Path] | None = None) -> None:
        self.upstream = f"http://127.0.0.1:{upstream_port}"
        self.token = token
        self.refused = 0
        proxy = self
        client = httpx.Client(timeout=60)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Authorization") != f"Bearer {proxy.token}":
                    proxy.refused += 1
                    self._reply(401, {"Content-Type": "application/json"},
                                json.dumps({"error": "AuthError", "message": "missing or wrong token"}).encode())  # fmt: skip
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
                got = client.request(self.command, proxy.upstream + self.path, headers=headers, content=body)
                self._reply(got.status_code, {k: v for k, v in got.headers.items() if k.lower() not in _HOP},
                            got.content)  # fmt: skip

            def _reply(self, status: int, headers: dict[str, str], content: bytes) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle  # noqa: N815

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if cert is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(cert[0]), str(cert[1]))
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> TokenProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
