"""Find article files under the given paths, read them safely, and parse them into articles.

Every problem is reported per file (``LoadResult.error``) and never stops the batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from index.models import Article
from index.parse import ParseError, parse_text

SUPPORTED_SUFFIXES = {".txt", ".md"}
_SNIFF_BYTES = 8192


@dataclass
class LoadResult:
    """What became of one file: its articles, or an error; warnings either way."""

    path: Path
    articles: list[Article] = field(default_factory=list)
    error: str | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass
class FileList:
    """Files found under the given paths, and paths that were skipped or missing."""

    files: list[Path] = field(default_factory=list)
    missing: list[Path] = field(default_factory=list)
    unsupported: list[Path] = field(default_factory=list)


def find_files(paths: Iterable[str | Path]) -> FileList:
    """Expand files and folders (recursively) into a sorted list of supported article files.

    A file named explicitly with an unsupported type is listed in ``unsupported``; inside folders, such
    files (and hidden files) are passed over silently.
    """
    found = FileList()
    seen: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            candidates = sorted(
                p
                for p in path.rglob("*")
                if p.is_file() and not any(part.startswith(".") for part in p.parts)
            )
            candidates = [p for p in candidates if p.suffix.lower() in SUPPORTED_SUFFIXES]
        elif path.is_file():
            if path.suffix.lower() not in SUPPORTED_SUFFIXES:
                found.unsupported.append(path)
                continue
            candidates = [path]
        else:
            found.missing.append(path)
            continue
        for candidate in candidates:
            resolved = candidate.resolve()
            if resolved not in seen:
                seen.add(resolved)
                found.files.append(candidate)
    return found


def decode(data: bytes) -> tuple[str, list[str]]:
    """Decode file bytes to text, raising ParseError for binary data; returns (text, warnings)."""
    if not data.strip():
        raise ParseError("empty file")
    if b"\x00" in data[:_SNIFF_BYTES]:
        raise ParseError("binary file (contains NUL bytes), not a text article")
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        warning = f"not valid UTF-8 (byte {exc.start}); decoded as cp1252 instead"
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    sample = text[:_SNIFF_BYTES]
    printable = sum(ch.isprintable() or ch in "\n\r\t" for ch in sample)
    if printable < 0.9 * len(sample):
        raise ParseError("binary file (mostly unprintable bytes), not a text article")
    return text, [warning]


def load_file(path: Path) -> LoadResult:
    """Read and parse one file; any failure becomes ``LoadResult.error`` with the reason."""
    result = LoadResult(path=path)
    try:
        data = path.read_bytes()
        text, result.warnings = decode(data)
        result.articles = [parse_text(text, source=str(path))]
    except ParseError as exc:
        result.error = str(exc)
    except OSError as exc:
        result.error = f"cannot read file: {exc.strerror or exc}"
    return result


def load_files(files: Iterable[Path]) -> Iterator[LoadResult]:
    """Load each file in turn."""
    for path in files:
        yield load_file(path)
