"""Find article files under the given paths and read them into articles, one file at a time.

Every problem is reported per file (``LoadResult.error``) and never stops the batch.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from index.formats import FileReport, is_supported, read_articles
from index.models import Article
from index.parse import ParseError


@dataclass
class LoadResult:
    """What became of one file: its articles, or an error; warnings either way."""

    path: Path
    articles: list[Article] = field(default_factory=list)
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    skipped: int = 0  # records of the file that could not be read
    notes: list[str] = field(default_factory=list)  # what was passed over on purpose


@dataclass
class FileList:
    """Files found under the given paths, and paths that were skipped or missing."""

    files: list[Path] = field(default_factory=list)
    missing: list[Path] = field(default_factory=list)
    unsupported: list[Path] = field(default_factory=list)  # named explicitly: each one fails
    skipped: list[Path] = field(default_factory=list)  # found in folders, of a type newsqa does not read


def absolute_path(path: Path) -> Path:
    """``path`` made absolute, its folders resolved (symbolic links followed), its own name kept: the
    stored source of an article does not depend on the working folder, and a linked file stays itself."""
    return Path(os.path.abspath(path)).parent.resolve() / Path(os.path.abspath(path)).name


def _visible(path: Path, root: Path) -> bool:
    return not any(part.startswith(".") for part in path.relative_to(root).parts)


def find_files(paths: Iterable[str | Path]) -> FileList:
    """Expand files and folders (recursively) into a sorted list of supported article files, as
    absolute paths (see ``absolute_path``).

    A file named explicitly with an unsupported type is listed in ``unsupported``; inside folders, such
    files are listed in ``skipped`` (hidden files and folders, named with a leading dot, are not looked
    at). Broken symbolic links are kept, to be reported.
    """
    found = FileList()
    seen: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            inside = sorted(
                p for p in path.rglob("*") if (p.is_file() or p.is_symlink()) and _visible(p, path)
            )
            candidates = [p for p in inside if is_supported(p)]
            found.skipped += [p for p in inside if not is_supported(p)]
        elif path.is_file() or path.is_symlink():
            if not is_supported(path):
                found.unsupported.append(path)
                continue
            candidates = [path]
        else:
            found.missing.append(path)
            continue
        for candidate in candidates:
            key = absolute_path(candidate)
            if key not in seen:
                seen.add(key)
                found.files.append(key)
    return found


def load_file(path: Path, field_map: dict[str, str] | None = None) -> LoadResult:
    """Read one file; any file-level failure becomes ``LoadResult.error`` with the reason."""
    result = LoadResult(path=path)
    report = FileReport()
    try:
        result.articles = list(read_articles(path, field_map, report))
    except ParseError as exc:
        result.error = str(exc)
    except (OSError, EOFError) as exc:  # unreadable, or a truncated .gz
        result.error = f"cannot read file: {getattr(exc, 'strerror', None) or exc}"
    result.warnings = report.warnings
    result.skipped = report.skipped_records
    result.notes = report.notes
    return result


def load_files(files: Iterable[Path], field_map: dict[str, str] | None = None) -> Iterator[LoadResult]:
    """Load each file in turn."""
    for path in files:
        yield load_file(path, field_map)
