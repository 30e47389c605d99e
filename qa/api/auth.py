"""Who may use the HTTP API: the chat's users (``NEWSQA_AUTH`` / ``NEWSQA_AUTH_FILE``) with HTTP basic, or a
key from ``NEWSQA_API_KEYS`` as ``Authorization: Bearer <key>``. With neither configured the API is open,
which ``newsqa api`` allows only on a loopback address (or with ``--insecure``).

Credentials are compared in constant time and never logged or echoed; ``/healthz`` needs none.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from index.settings import Settings
from qa.hosts import is_loopback
from qa.ui.auth import AuthError, auth_pairs

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

OPEN_PATHS = frozenset({"/healthz"})
NEEDS_CREDENTIALS = (
    "this newsqa API needs credentials: send 'Authorization: Bearer <key>' with a key from "
    "NEWSQA_API_KEYS, or HTTP basic with a NEWSQA_AUTH user"
)


class ApiConfigError(ValueError):
    """``newsqa api`` cannot start as configured; the message says why and what to set."""


@dataclass(frozen=True)
class Credentials:
    """The accepted users and bearer keys (empty: no login configured)."""

    users: tuple[tuple[str, str], ...] = ()
    keys: tuple[str, ...] = ()

    @property
    def required(self) -> bool:
        """Whether any credential is configured (else every request is let in)."""
        return bool(self.users or self.keys)

    def allows(self, authorization: str) -> bool:
        """Whether an ``Authorization`` header value names a configured user or key."""
        scheme, _, value = authorization.strip().partition(" ")
        value = value.strip()
        if scheme.lower() == "bearer" and value:
            return any(hmac.compare_digest(value.encode(), key.encode()) for key in self.keys)
        if scheme.lower() == "basic" and value:
            try:
                user, sep, password = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return False
            if not sep:
                return False
            given = f"{user}:{password}".encode()
            return any(hmac.compare_digest(given, f"{u}:{p}".encode()) for u, p in self.users)
        return False


def api_keys(settings: Settings) -> tuple[str, ...]:
    """The bearer keys of ``NEWSQA_API_KEYS`` (comma-separated; blanks ignored)."""
    secret = settings.api_keys.get_secret_value() if settings.api_keys is not None else ""
    return tuple(key.strip() for key in secret.split(",") if key.strip())


def credentials(settings: Settings) -> Credentials:
    """The configured users and keys; a malformed user setting is an ``ApiConfigError``."""
    try:
        users = tuple(auth_pairs(settings) or ())
    except AuthError as exc:
        raise ApiConfigError(str(exc)) from exc
    return Credentials(users, api_keys(settings))


def check_bind(host: str, creds: Credentials, *, insecure: bool) -> None:
    """Refuse an address other machines can reach when no credential is configured (unless ``insecure``)."""
    if creds.required or insecure or is_loopback(host):
        return
    raise ApiConfigError(
        f"refusing to serve the API on {host} without credentials: anyone who can reach it could ask and "
        "change the index. Set NEWSQA_API_KEYS (bearer keys) or NEWSQA_AUTH / NEWSQA_AUTH_FILE (users), "
        "keep the default --host 127.0.0.1, or pass --insecure if that is really meant."
    )


def error_json(status: int, message: str, kind: str) -> bytes:
    """The body of every API error: ``{"error": {"message", "type", "status"}}``."""
    return json.dumps({"error": {"message": message, "type": kind, "status": status}}).encode()


def route_path(scope: Scope) -> str:
    """The request's path inside this app (without the prefix it is mounted under, e.g. ``/api``)."""
    path, root = scope.get("path", ""), scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


class AuthMiddleware:
    """An ASGI middleware answering 401 (JSON, with ``WWW-Authenticate``) to any HTTP request without a
    configured credential, except for ``OPEN_PATHS``."""

    def __init__(self, app: ASGIApp, creds: Credentials) -> None:
        self.app = app
        self.creds = creds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, or answer 401."""
        if scope["type"] != "http" or not self.creds.required or route_path(scope) in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        authorization = headers.get(b"authorization", b"").decode("latin-1")
        if authorization and self.creds.allows(authorization):
            await self.app(scope, receive, send)
            return
        message = (
            NEEDS_CREDENTIALS if not authorization else "the credentials sent are not valid for this API"
        )
        body = error_json(401, message, "authentication_error")
        challenge = 'Basic realm="newsqa", charset="UTF-8"' if self.creds.users else 'Bearer realm="newsqa"'
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", challenge.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
