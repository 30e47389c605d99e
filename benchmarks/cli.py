"""``newsqa bench ...``: the benchmark commands, added to the ``newsqa`` command line through the
``newsqa.commands`` entry point (pyproject.toml), so the product packages never import the tooling.

The group receives the ``newsqa`` context: ``ctx.obj["settings"]`` holds the settings (``--data-dir``)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import click


def _corpus_options(command: Callable) -> Callable:
    """``--articles N`` and ``--corpus FILE``: the first N articles of the RealTime QA corpus."""
    command = click.option(
        "--corpus",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=None,
        help="RealTime QA corpus.jsonl (default: ../shared/eval/realtimeqa/corpus.jsonl).",
    )(command)
    return click.option(
        "--articles", type=int, default=300, show_default=True, help="First N articles of the corpus."
    )(command)


@click.group()
def bench() -> None:
    """Benchmarks that print figures (run them alone: two cores are easily disturbed)."""


@bench.command("ingest")
@_corpus_options
@click.option("--no-llama-index", is_flag=True, help="Skip the llama-index comparison runs (c) and (d).")
@click.option(
    "--backends",
    default="auto,onnx",
    show_default=True,
    help="Embedding backends timed in run (a) (auto: this CPU's choice).",
)
@click.pass_context
def bench_ingest_command(
    ctx: click.Context, articles: int, corpus: Path | None, no_llama_index: bool, backends: str
) -> None:
    """Ingest speed: newsqa vs the bare model vs llama-index, on the same articles."""
    from benchmarks.ingest_speed import DEFAULT_CORPUS, BenchSetupError, bench_ingest

    chosen = tuple(b.strip() for b in backends.split(",") if b.strip())
    try:
        bench_ingest(
            articles, corpus or DEFAULT_CORPUS, ctx.obj["settings"], click.echo, not no_llama_index, chosen
        )
    except BenchSetupError as exc:
        raise click.ClickException(str(exc)) from exc


@bench.command("ray")
@_corpus_options
@click.option("--ray", "address", default="auto", show_default=True, help="Ray cluster (auto: a local one).")
@click.option("--workers", default="1,2", show_default=True, help="Worker counts to time, comma-separated.")
@click.pass_context
def bench_ray_command(
    ctx: click.Context, articles: int, corpus: Path | None, address: str, workers: str
) -> None:
    """Ingest in one process vs with the embedding on 1, 2, … Ray workers, on the same articles."""
    from benchmarks.ingest_speed import DEFAULT_CORPUS, BenchSetupError
    from benchmarks.ray_ingest import bench_ray
    from index.embed_ray import RayUnavailable

    counts = tuple(int(n) for n in workers.split(",") if n.strip())
    try:
        bench_ray(articles, corpus or DEFAULT_CORPUS, ctx.obj["settings"], address, counts, click.echo)
    except (BenchSetupError, RayUnavailable) as exc:
        raise click.ClickException(str(exc)) from exc


@bench.command("load")
@click.option(
    "--users", type=click.IntRange(1, 200), default=4, show_default=True, help="Concurrent sessions."
)
@click.option("--questions", type=click.IntRange(1, 100), default=3, show_default=True, help="Per session.")
@click.option("--llm-url", help="Use this OpenAI-compatible server (e.g. http://127.0.0.1:8081/v1).")
@click.option("--llm-model", help="Model name to request from --llm-url (default: NEWSQA_OPENAI_MODEL).")
@click.option(
    "--corpus",
    "corpus",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="Ingest these first (default: the sample corpus, if the index is empty).",
)
@click.option("--request-timeout", type=float, default=600, show_default=True, help="Seconds per request.")
@click.option("--time-limit", type=float, default=1800, show_default=True, help="Seconds for the whole run.")
@click.option("--short", is_flag=True, help="Ask for short answers.")
@click.pass_context
def bench_load_command(ctx: click.Context, users: int, questions: int, llm_url: str | None,
                       llm_model: str | None, corpus: tuple[Path, ...], request_timeout: float,
                       time_limit: float, short: bool) -> None:  # fmt: skip
    """N concurrent chat sessions × M questions: throughput, latency, errors, history leaks."""
    from benchmarks.load import LoadError, run_load

    try:
        report = run_load(ctx.obj["settings"], users, questions, request_timeout=request_timeout,
                          time_limit=time_limit, llm_url=llm_url, llm_model=llm_model,
                          corpus=list(corpus) or None, style="short" if short else "normal",
                          echo=lambda line: click.echo(line, err=True))  # fmt: skip
    except LoadError as exc:
        raise click.ClickException(str(exc)) from exc
    for line in report.lines():
        click.echo(line)
    sys.exit(0 if report.ok else 1)
