"""The read-only Settings view: which LLM and embedding model answer, and how big the index is.

Secrets (API key, login) are never shown, only whether they are set.
"""

from __future__ import annotations

import os
from pathlib import Path

from qa.answer import Engine
from qa.ui.safe import escape_md


def folder_size(folder: Path) -> int:
    """Bytes used by the files under ``folder`` (0 when it does not exist)."""
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                total += (Path(root) / name).stat().st_size
            except OSError:  # removed while walking (an ingest is running)
                continue
    return total


def llm_description(engine: Engine) -> tuple[str, str]:
    """(backend, model) as the settings name them, without starting the model."""
    s = engine.settings
    if s.llm == "openai":
        return f"OpenAI-compatible server at {s.openai_base_url or '(NEWSQA_OPENAI_BASE_URL not set)'}", (
            s.openai_model or "(NEWSQA_OPENAI_MODEL not set)"
        )
    from qa.model_files import MODEL_NAME

    model = Path(s.local_model_path).stem if s.local_model_path else MODEL_NAME
    return f"local: llama.cpp in this process, {s.threads} threads, context {s.n_ctx} tokens", model


def settings_markdown(engine: Engine) -> str:
    """A Markdown table of the settings a reader may want to know (values escaped)."""
    s = engine.settings
    stats = engine.catalog.stats()
    backend, model = llm_description(engine)
    size_mb = folder_size(s.data_dir) / (1024 * 1024)
    rows = [
        ("LLM backend", backend),
        ("LLM model", model),
        ("Embedding model", getattr(engine.embedder, "name", type(engine.embedder).__name__)),
        ("Embedding backend setting", s.embed_backend),
        ("Index", f"{stats.articles} articles, {engine.store.count()} chunks"),
        ("Data folder", f"{Path(s.data_dir).resolve()} ({size_mb:.1f} MB on disk, models included)"),
        ("Passages per question (default)", str(s.top_k)),
        ("Minimum relevance to answer", f"{s.min_relevance:g}"),
        ("Passage tokens sent to the LLM", str(s.context_tokens) if s.context_tokens else "whole passages"),
        ("Longest answer", f"{s.max_answer_tokens} tokens"),
        ("Upload limit", f"{s.upload_max_mb:g} MB per file"),
        ("Login required", "yes" if (s.auth is not None or s.auth_file is not None) else "no"),
    ]
    lines = ["| setting | value |", "|---|---|"]
    lines += [f"| {escape_md(name)} | {escape_md(value)} |" for name, value in rows]
    lines.append(
        "\nRead-only here: change them with `NEWSQA_*` environment variables or `newsqa.toml`, then restart."
    )
    return "\n".join(lines)
