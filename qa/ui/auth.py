"""Optional login for the chat: ``NEWSQA_AUTH=user:password`` and/or ``NEWSQA_AUTH_FILE`` (one
``user:password`` per line; blank lines and ``#`` comments are skipped). Passed to Gradio's
``launch(auth=...)``; without either, the page is open to whoever can reach its address."""

from __future__ import annotations

from pathlib import Path

from index.settings import Settings


class AuthError(ValueError):
    """A login setting that cannot be used; the message names the setting or file and the line."""


def parse_pair(text: str, where: str) -> tuple[str, str]:
    """``user:password`` → (user, password); the password may itself contain ``:``."""
    user, sep, password = text.strip().partition(":")
    if not sep or not user.strip() or not password:
        raise AuthError(f"{where}: expected user:password (both non-empty)")
    return user.strip(), password


def read_auth_file(path: Path) -> list[tuple[str, str]]:
    """The (user, password) pairs of a users file."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise AuthError(f"NEWSQA_AUTH_FILE={path}: cannot read it ({exc.strerror or exc})") from exc
    pairs = [
        parse_pair(line, f"NEWSQA_AUTH_FILE={path}, line {number}")
        for number, line in enumerate(lines, start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not pairs:
        raise AuthError(f"NEWSQA_AUTH_FILE={path}: no user:password line in it")
    return pairs


def auth_pairs(settings: Settings) -> list[tuple[str, str]] | None:
    """Every allowed (user, password) from the settings, or None when no login is configured."""
    pairs: list[tuple[str, str]] = []
    secret = settings.auth.get_secret_value() if settings.auth is not None else ""
    if secret.strip():
        pairs.append(parse_pair(secret, "NEWSQA_AUTH"))
    if settings.auth_file is not None:
        pairs += read_auth_file(settings.auth_file)
    return pairs or None
