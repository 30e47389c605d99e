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
    "--warc",
    is_flag=True,
    help="Instead: the same articles ingested from JSONL and from a WARC of them as HTML pages (one backend).",
)
@click.option(
    "--backends",
    default="auto,onnx",
    show_default=True,
    help="Embedding backends timed in run (a) (auto: this CPU's choice).",
)
@click.pass_context
def bench_ingest_command(
    ctx: click.Context, articles: int, corpus: Path | None, no_llama_index: bool, warc: bool, backends: str
) -> None:
    """Ingest speed: newsqa vs the bare model vs llama-index, on the same articles (--warc: from JSONL vs
    from a WARC of the same articles as HTML pages)."""
    from benchmarks.ingest_speed import DEFAULT_CORPUS, BenchSetupError, bench_ingest

    chosen = tuple(b.strip() for b in backends.split(",") if b.strip())
    if warc:
        from benchmarks.warc_ingest import bench_warc

        try:
            bench_warc(
                articles,
                corpus or DEFAULT_CORPUS,
                ctx.obj["settings"],
                click.echo,
                chosen[0] if chosen else "auto",
            )
        except BenchSetupError as exc:
            raise click.ClickException(str(exc)) from exc
        return
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


@bench.command("typeahead")
@click.option("--limit", type=click.IntRange(1, 500), default=20, show_default=True, help="Questions.")
@click.option("--sample", is_flag=True, help="The sample corpus's questions (else RealTime QA dev).")
@click.option("--eval-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--cps", type=float, default=6.0, show_default=True, help="Characters typed per second.")
@click.option("--pauses", type=float, default=0.0, show_default=True, help="Seconds of pause after a word.")
@click.option("--two-users", is_flag=True, help="Also ask each question while another user types.")
@click.pass_context
def bench_typeahead_command(ctx: click.Context, limit: int, sample: bool, eval_dir: Path | None, cps: float,
                            pauses: float, two_users: bool) -> None:  # fmt: skip
    """First token after Enter with and without reading while typing (benchmarks/typeahead.py)."""
    from benchmarks.typeahead import cpu_name, questions_from, report, run_typeahead
    from qa.evaluate.run import DEFAULT_EVAL_DIR

    settings = ctx.obj["settings"]
    if sample:
        from qa.answer import Engine

        engine = Engine(settings)
        if engine.store.count() == 0:
            engine.ingestor().ingest(
                [Path(__file__).resolve().parent.parent / "data" / "sample"], progress=False
            )
    questions = questions_from(eval_dir or DEFAULT_EVAL_DIR, limit, sample)
    passes = run_typeahead(
        settings,
        questions,
        cps=cps,
        pauses=pauses,
        two_users=two_users,
        echo=lambda m: click.echo(m, err=True),
    )
    for line in report(passes, cpu_name()):
        click.echo(line)


@bench.command("soak")
@click.option(
    "--minutes", type=click.FloatRange(min=0.2), default=30, show_default=True, help="Minutes of load."
)
@click.option("--api-clients", type=click.IntRange(0, 100), default=6, show_default=True, help="API clients.")
@click.option(
    "--chat-sessions", type=click.IntRange(0, 50), default=2, show_default=True, help="Chat sessions."
)
@click.option(
    "--model",
    default="smollm2",
    show_default=True,
    help="The model server's model: smollm2 (fast, the tests' model), packaged (the real "
    "Qwen2.5-Coder-1.5B), or the path of a .gguf file.",
)
@click.option("--max-waiting", type=click.IntRange(min=0), help="NEWSQA_API_MAX_WAITING (default: derived).")
@click.option("--article-every", type=click.FloatRange(min=0.5), default=20, show_default=True,
              help="Seconds between two new article files for the watcher.")  # fmt: skip
@click.option("--delete-every", type=click.FloatRange(min=0.5), default=60, show_default=True,
              help="Seconds between two Library deletions.")  # fmt: skip
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path),
              help="Work folder, kept with its logs (default: a temporary one, removed).")  # fmt: skip
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the report as JSON here.")  # fmt: skip
def bench_soak_command(minutes: float, api_clients: int, chat_sessions: int, model: str,
                       max_waiting: int | None, article_every: float, delete_every: float,
                       workdir: Path | None, json_path: Path | None) -> None:  # fmt: skip
    """The whole server under a crowd for --minutes: serve --api on a Chroma server, a watcher fed new
    articles, API clients and chat sessions asking, Library deletions, a client killed mid-answer, the
    model server restarted. Reports answers, errors by kind, 503s, first-token p50/p95 and the server's RSS,
    open files and threads; exits 1 unless nothing was lost or failed. (Its own data folder: --data-dir is
    not used.)"""
    from benchmarks.soak import SoakOptions, run_soak
    from benchmarks.soak_procs import SoakError

    options = SoakOptions(minutes=minutes, api_clients=api_clients, chat_sessions=chat_sessions, model=model,
                          max_waiting=max_waiting, article_every=article_every, delete_every=delete_every,
                          workdir=workdir)  # fmt: skip
    try:
        report = run_soak(options, echo=lambda line: click.echo(line, err=True))
    except SoakError as exc:
        raise click.ClickException(str(exc)) from exc
    for line in report.lines():
        click.echo(line)
    if json_path:
        json_path.write_text(report.to_json())
    sys.exit(0 if report.ok else 1)
