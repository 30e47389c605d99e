"""The Library tab's logic: corpus figures and chart, uploads (checked, copied into ``<data>/uploads``,
ingested, reported per file), the searchable article table, and deleting an article.

Nothing here depends on Gradio; :mod:`qa.ui.library_tab` wires it to the page.
"""

from __future__ import annotations

import filecmp
import re
import shutil
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from matplotlib.figure import Figure

from index.catalog import CatalogRow, CatalogStats
from index.feedlist import FeedState
from index.formats import SUPPORTED_SUFFIXES, is_supported, type_label
from index.ingest import Ingestor, IngestReport
from index.settings import Settings
from qa.ui.safe import escape_md, one_line

UPLOADS = "uploads"
TABLE_HEADERS = ["Title", "Outlet", "Date", "id"]
TABLE_LIMIT = 1000  # rows shown at once; the search narrows the rest
_MB = 1024 * 1024
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")
_UNSUPPORTED = "unsupported type"


def accepted_types() -> list[str]:
    """File name endings the upload accepts: every format ``newsqa ingest`` reads, and ``.gz``."""
    return sorted(SUPPORTED_SUFFIXES) + [".gz"]


def uploads_dir(settings: Settings) -> Path:
    """``<data_dir>/uploads`` as an absolute path (created): uploaded files live there, so ``--prune``
    keeps the articles that came from them."""
    folder = (settings.data_dir / UPLOADS).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass
class FileResult:
    """What became of one uploaded file."""

    name: str
    result: str
    details: str = ""

    def row(self) -> list[str]:
        """[file, result, details] for the results table."""
        return [self.name, self.result, self.details]


def safe_name(name: str) -> str:
    """An uploaded file's name, reduced to a plain file name (no folders, no leading dots, no odd
    characters) that keeps its extension."""
    base = _UNSAFE_NAME.sub("_", Path(name or "").name).strip(" ._") or "upload"
    return base[-150:]


def check_uploads(paths: Iterable[str | Path], max_mb: float) -> tuple[list[Path], list[FileResult]]:
    """Split uploaded files into those to ingest and those refused (unsupported type, too large, empty)."""
    accepted: list[Path] = []
    refused: list[FileResult] = []
    for raw in paths:
        path = Path(raw)
        name = path.name
        if not is_supported(Path(name.lower())):
            refused.append(
                FileResult(name, "refused", f"{_UNSUPPORTED} (accepted: {' '.join(accepted_types())})")
            )
            continue
        try:
            size = path.stat().st_size
        except OSError as exc:
            refused.append(FileResult(name, "refused", f"cannot read the upload: {exc.strerror or exc}"))
            continue
        if size > max_mb * _MB:
            refused.append(
                FileResult(name, "refused", f"too large: {size / _MB:.1f} MB (limit {max_mb:g} MB per file)")
            )
        elif size == 0:
            refused.append(FileResult(name, "refused", "empty file"))
        else:
            accepted.append(path)
    return accepted, refused


def _same_bytes(a: Path, b: Path) -> bool:
    return a.stat().st_size == b.stat().st_size and filecmp.cmp(a, b, shallow=False)


def stage_uploads(paths: Iterable[Path], folder: Path) -> dict[Path, str]:
    """Copy uploaded files into ``folder``; returns {copy: name as uploaded}. An upload never replaces
    another file: one with the name of an earlier, different upload (another user's, say) is kept beside
    it under a numbered name; the very same file uploaded again is the same file."""
    staged: dict[Path, str] = {}
    for path in paths:
        name = safe_name(path.name)
        stem, dot, rest = name.partition(".")
        target, n = folder / name, 2
        while target in staged or (target.exists() and not _same_bytes(path, target)):
            target = folder / f"{stem}-{n}{dot}{rest}"
            n += 1
        if not target.exists():
            shutil.copyfile(path, target)
        staged[target] = path.name
    return staged


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def file_results(staged: dict[Path, str], report: IngestReport) -> list[FileResult]:
    """One result per staged file from the ingest report: added / already stored / duplicate / failed."""
    added = Counter(a.source_path for a in report.added)
    unchanged = Counter(a.source_path for a in report.unchanged)
    folded = Counter(c.article.source_path for c in report.folded)
    failed = dict(report.failed)
    warnings: dict[str, list[str]] = {}
    for path, message in [*report.notes, *report.warnings]:  # a web archive's note: what it passed over
        warnings.setdefault(path, []).append(message)
    results = []
    for path, name in staged.items():
        key = str(path)
        details = "; ".join(warnings.get(key, []))
        if key in failed:
            results.append(FileResult(name, "failed", "; ".join(filter(None, [failed[key], details]))))
            continue
        parts = []
        if added[key]:
            parts.append(f"added {_plural(added[key], 'article')}")
        if unchanged[key]:
            parts.append(f"{_plural(unchanged[key], 'article')} already in the index")
        if folded[key]:
            parts.append(f"{_plural(folded[key], 'duplicate')} of stored articles (kept once)")
        results.append(FileResult(name, ", ".join(parts) or "no article found", details))
    return results


def ingest_uploads(ingestor: Ingestor, paths: Iterable[str | Path], *, progress: bool = True) -> tuple[
    list[FileResult], IngestReport | None
]:  # fmt: skip
    """Check, copy into ``<data>/uploads`` and ingest uploaded files; per-file results (refused files
    first), and the ingest report (None when nothing was ingested)."""
    accepted, refused = check_uploads(paths, ingestor.settings.upload_max_mb)
    if not accepted:
        return refused, None
    with ingestor.corpus.writing():  # staging too: two uploads of one name never pick the same file
        staged = stage_uploads(accepted, uploads_dir(ingestor.settings))
        report = ingestor.ingest(list(staged), progress=progress)
    return refused + file_results(staged, report), report


def skipped_types(results: Iterable[FileResult]) -> Counter[str]:
    """The uploads refused for their type, counted by type (``.pptx``: 2)."""
    return Counter(
        type_label(Path(r.name))
        for r in results
        if r.result == "refused" and r.details.startswith(_UNSUPPORTED)
    )


def upload_summary(results: list[FileResult], report: IngestReport | None) -> str:
    """An upload's summary line: the ingest's counts (``nothing was ingested`` when no file was), then
    the files refused for their type, by type: ``skipped 2 files: 1 .pptx, 1 .png``."""
    first = report.summary().splitlines()[0] if report is not None else "nothing was ingested"
    skipped = IngestReport(skipped=skipped_types(results)).skipped_line()
    return f"{first}; {skipped} (types newsqa does not read)" if skipped else first


def delete_article(ingestor: Ingestor, article_id: str) -> str:
    """Delete one article from the index (chunks, catalog row, BM25); an uploaded file that no longer
    holds any stored article is removed from ``<data>/uploads`` too. Returns what was done, in words."""
    row = next((r for r in ingestor.catalog.rows() if r.id == article_id), None)
    if row is None or not ingestor.delete(article_id):
        return "That article is no longer in the index."
    message = f"Deleted “{one_line(row.title)}”."
    source = Path(row.source_path)
    still_used = any(r.source_path == row.source_path for r in ingestor.catalog.rows()) or any(
        path == row.source_path for _, _, path in ingestor.catalog.copy_rows()
    )
    if source.parent == uploads_dir(ingestor.settings) and source.exists() and not still_used:
        source.unlink()
        message += f" Its uploaded file {source.name} was removed as well."
    return message


def _matches(row: CatalogRow, words: list[str]) -> bool:
    haystack = f"{row.title} {row.outlet or ''} {row.published or ''}".lower()
    return all(w in haystack for w in words)


def article_rows(rows: Iterable[CatalogRow], query: str = "", limit: int = TABLE_LIMIT) -> tuple[
    list[list[str]], int
]:  # fmt: skip
    """Table rows [title, outlet, date, id] of the articles matching every word of ``query`` (title,
    outlet or date), newest first, at most ``limit``; and how many matched in all."""
    words = one_line(query).lower().split()
    found = [r for r in rows if _matches(r, words)]
    found.sort(key=lambda r: (r.published or "", r.id), reverse=True)
    table = [[one_line(r.title), one_line(r.outlet), (r.published or "")[:10], r.id] for r in found[:limit]]
    return table, len(found)


def figures_markdown(stats: CatalogStats, chunks: int) -> str:
    """``**12** articles · **3** outlets · **80** chunks · 2021-12-31 – 2022-01-05 · 1 duplicate folded``."""
    if not stats.articles:
        return "The index is empty: upload articles below, or run `newsqa ingest PATH`."
    parts = [
        f"**{stats.articles}** article{'s' if stats.articles != 1 else ''}",
        f"**{len(stats.outlets)}** outlet{'s' if len(stats.outlets) != 1 else ''}",
        f"**{chunks}** chunk{'s' if chunks != 1 else ''}",
    ]
    if stats.first_date and stats.last_date:
        first, last = escape_md(stats.first_date[:10]), escape_md(stats.last_date[:10])
        parts.append(first if first == last else f"{first} – {last}")
    folded = stats.exact_copies + stats.near_copies
    if folded:
        parts.append(f"{folded} duplicate{'s' if folded != 1 else ''} folded")
    return " · ".join(parts)


def figures_table(stats: CatalogStats, chunks: int, outlets_shown: int = 12) -> str:
    """The corpus figures as a Markdown table (articles, outlets, chunks, first and last date, folded
    duplicates), then the outlets by name (the first ``outlets_shown``)."""
    first = escape_md((stats.first_date or "–")[:10])
    last = escape_md((stats.last_date or "–")[:10])
    folded = stats.exact_copies + stats.near_copies
    lines = [
        "| articles | outlets | chunks | first date | last date | duplicates folded |",
        "|---:|---:|---:|---|---|---:|",
        f"| {stats.articles} | {len(stats.outlets)} | {chunks} | {first} | {last} | {folded} |",
    ]
    if stats.outlets:
        names = ", ".join(escape_md(o) for o in stats.outlets[:outlets_shown])
        more = f" and {len(stats.outlets) - outlets_shown} more" if len(stats.outlets) > outlets_shown else ""
        lines.append(f"\nOutlets: {names}{more}")
    return "\n".join(lines)


def feeds_markdown(feeds: Iterable[FeedState], every_minutes: float) -> str:
    """The listed feeds as a Markdown table: feed, last check, articles that check added, its error."""
    feeds = list(feeds)
    if not feeds:
        return "No feeds listed: `newsqa feeds add URL`, then `newsqa watch` keeps them current."
    lines = [
        f"**Feeds** (`newsqa watch` checks them every {every_minutes:g} minutes)",
        "",
        "| feed | last check | added then | error |",
        "|---|---|---:|---|",
    ]
    for feed in feeds:
        name = escape_md(feed.title or feed.url) + (f" ({escape_md(feed.url)})" if feed.title else "")
        checked = escape_md((feed.last_checked or "never").replace("T", " ")[:19])
        added = "–" if feed.last_added is None else str(feed.last_added)
        lines.append(f"| {name} | {checked} | {added} | {escape_md(feed.last_error or '')} |")
    return "\n".join(lines)


def _per_period(rows: list[CatalogRow]) -> tuple[list[str], list[int], str]:
    """Article counts per day (per month when the corpus spans more than 120 distinct days)."""
    days = Counter((r.published or "")[:10] for r in rows if r.published)
    if len(days) > 120:
        months = Counter((r.published or "")[:7] for r in rows if r.published)
        keys = sorted(months)
        return keys, [months[k] for k in keys], "month"
    keys = sorted(days)
    return keys, [days[k] for k in keys], "day"


def _label(name: str, width: int = 28) -> str:
    """A chart label: cut to ``width`` characters, ``$`` escaped (matplotlib reads ``$...$`` as math)."""
    name = name if len(name) <= width else name[: width - 1] + "…"
    return name.replace("$", r"\$")


def corpus_chart(rows: list[CatalogRow], top_outlets: int = 10) -> Figure | None:
    """Two bar charts: articles per day (or month) and per outlet (the ``top_outlets`` largest, then
    "other"); None for an empty corpus. Built on a bare ``Figure`` (no pyplot state: thread-safe)."""
    if not rows:
        return None
    fig = Figure(figsize=(10, 3.4), layout="constrained")
    by_time, by_outlet = fig.subplots(1, 2, width_ratios=[3, 2])

    keys, counts, period = _per_period(rows)
    undated = sum(1 for r in rows if not r.published)
    by_time.bar(range(len(keys)), counts, color="#4a7bd0")
    step = max(1, len(keys) // 10)
    by_time.set_xticks(range(0, len(keys), step), keys[::step], rotation=30, ha="right", fontsize=8)
    title = f"Articles per {period}" + (f" ({undated} undated)" if undated else "")
    by_time.set_title(title, fontsize=10)
    by_time.yaxis.get_major_locator().set_params(integer=True)

    outlets = Counter(one_line(r.outlet) or "unknown" for r in rows)
    top = outlets.most_common(top_outlets)
    rest = sum(outlets.values()) - sum(n for _, n in top)
    if rest:
        top.append(("other", rest))
    names = [_label(name) for name, _ in reversed(top)]
    by_outlet.barh(names, [n for _, n in reversed(top)], color="#d07a4a")
    by_outlet.set_title("Articles per outlet", fontsize=10)
    by_outlet.tick_params(axis="y", labelsize=8)
    by_outlet.xaxis.get_major_locator().set_params(integer=True)
    return fig
