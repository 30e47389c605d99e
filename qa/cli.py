"""The ``newsqa`` command line: ingest articles, ask questions, serve the chat, show corpus figures."""

from __future__ import annotations

import contextlib
import sys
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

import click

from index.settings import Settings, use_offline_environment

PLUGIN_GROUP = "newsqa.commands"  # entry points that add commands (``newsqa bench`` comes this way)


def _settings(ctx: click.Context) -> Settings:
    return ctx.obj["settings"]


def _plugins() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=PLUGIN_GROUP)}


class _Cli(click.Group):
    """The command group; a chunk store that cannot be used, or a model file that fails its checksum, is
    reported in one line, not a traceback. Commands registered under the ``newsqa.commands`` entry point
    are listed with the others and imported only when run."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_plugins()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        plugin = None if command is not None else _plugins().get(cmd_name)
        if plugin is None:
            return command
        try:
            return plugin.load()
        except ImportError as exc:
            raise click.ClickException(
                f"the '{cmd_name}' command ({plugin.value}) cannot load: {exc}"
            ) from exc

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            store = sys.modules.get("index.store")  # imported by any command that touches the store
            model_files = sys.modules.get("qa.model_files")  # imported by any command that loads the model
            if (store is not None and isinstance(exc, store.StoreError)) or (
                model_files is not None and isinstance(exc, model_files.ModelFileError)
            ):
                raise click.ClickException(str(exc)) from exc
            raise


@click.group(cls=_Cli)
@click.option("--data-dir", type=click.Path(path_type=Path), help="Index folder (default: NEWSQA_DATA_DIR).")
@click.pass_context
def cli(ctx: click.Context, data_dir: Path | None) -> None:
    """newsqa: ask questions about a pile of news articles; every answer cites its sources."""
    use_offline_environment()  # every command, before it imports the model and store libraries
    overrides = {"data_dir": data_dir} if data_dir else {}
    ctx.obj = {"settings": Settings(**overrides)}


def _field_map(values: tuple[str, ...]) -> dict[str, str]:
    from index.formats import FIELD_ALIASES

    mapping = {}
    for value in values:
        name, sep, column = value.partition("=")
        if not sep or name not in FIELD_ALIASES or not column:
            raise click.BadParameter(
                f"expected FIELD=NAME with FIELD one of {', '.join(FIELD_ALIASES)}, got {value!r}",
                param_hint="--field",
            )
        mapping[name] = column
    return mapping


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--field",
    "fields",
    multiple=True,
    metavar="FIELD=NAME",
    help="Read FIELD (title, body, published, outlet, url, author, id) from column/key NAME.",
)
@click.option("--prune", is_flag=True, help="Also remove articles whose source files are gone.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.pass_context
def ingest(
    ctx: click.Context, paths: tuple[Path, ...], fields: tuple[str, ...], prune: bool, quiet: bool
) -> None:
    """Add article files or folders to the index: .txt .md .html .htm .json .jsonl .csv, and their .gz."""
    from qa.answer import Engine

    engine = Engine(_settings(ctx))
    report = engine.ingestor().ingest(paths, progress=not quiet, field_map=_field_map(fields), prune=prune)
    click.echo(report.summary())
    if not quiet and report.chunks_added:
        click.echo(f"time: {report.stages_line()} (embedded with {engine.embedder.name})", err=True)
    trained = engine.update_reranker(progress=not quiet)
    if trained:
        click.echo(trained)
    sys.exit(0 if report.ok else 1)


@cli.command()
@click.option("--force", is_flag=True, help="Train even if the corpus has not changed (or is small).")
@click.pass_context
def rerank(ctx: click.Context, force: bool) -> None:
    """Train the learned reranker on the indexed articles.

    With NEWSQA_RERANK=learned, ingest also does this when the corpus changed by a fifth."""
    from qa.answer import Engine

    try:
        done = Engine(_settings(ctx)).update_reranker(force=force, progress=True)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(done or "the reranker is up to date (use --force to train anyway)")


@cli.command()
@click.argument("question")
@click.option("--top-k", type=int, default=None, help="Passages to retrieve (default: NEWSQA_TOP_K).")
@click.option("--outlet", "outlets", multiple=True, help="Only articles from this outlet (repeatable).")
@click.option("--since", help="Only articles published on or after this date (YYYY-MM-DD).")
@click.option("--until", help="Only articles published on or before this date (YYYY-MM-DD).")
@click.option(
    "--as-of",
    "as_of",
    help="Answer as of this date (YYYY-MM-DD; default today): anchors "
    "'this week', 'yesterday', and leaves out later articles.",
)
@click.option("--short", is_flag=True, help="Answer in as few words as possible (still cited).")
@click.pass_context
def ask(
    ctx: click.Context,
    question: str,
    top_k: int | None,
    outlets: tuple[str, ...],
    since: str | None,
    until: str | None,
    as_of: str | None,
    short: bool,
) -> None:
    """Answer QUESTION from the indexed articles, streaming, then list the cited sources."""
    from qa.answer import Engine
    from qa.dates import to_date
    from qa.llm import LLMError
    from qa.models import Answer

    for value, hint in ((since, "--since"), (until, "--until"), (as_of, "--as-of")):
        try:
            to_date(value, hint)
        except ValueError as exc:
            raise click.BadParameter(str(exc).split(": ", 1)[1], param_hint=hint) from exc
    engine = Engine(_settings(ctx))
    options = {"since": since, "until": until, "outlets": list(outlets), "as_of": as_of}
    streamed: list[str] = []
    try:
        for item in engine.stream(question, top_k=top_k, style="short" if short else "normal", **options):
            if isinstance(item, Answer):
                answer = item
            else:
                streamed.append(item)
                click.echo(item, nl=False)
    except LLMError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo()
    if answer.text != "".join(streamed).strip():  # citations were checked, or the answer abstained
        click.echo(f"\nChecked answer: {answer.text}")
    searched = {k: v for k, v in answer.filters.items() if v}
    if searched:
        click.echo(f"(searched articles with {', '.join(f'{k} {v}' for k, v in searched.items())})", err=True)
    if answer.citations:
        click.echo("\nSources:\n" + answer.sources_text())
        click.echo(answer.freshness_text())
    elif answer.abstain_reason:
        click.echo(f"\n({answer.abstain_reason})")
    t = answer.timings
    first = f"{t.first_token_ms / 1000:.1f}s" if t.first_token_ms is not None else "-"
    click.echo(
        f"\n[{answer.model or 'no model'} · retrieve {t.retrieve_ms:.0f} ms · first token {first} "
        f"· total {t.total_ms / 1000:.1f}s]",
        err=True,
    )


@cli.command()
@click.option("--host", default=None, help="Address to bind (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default 7860).")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Start the chat in the browser (ingests the sample corpus if the index is empty)."""
    from qa.ui import page

    page.main(host=host, port=port, settings=_settings(ctx))


@cli.command()
@click.pass_context
def stats(ctx: click.Context) -> None:
    """Corpus figures: articles, chunks, outlets, date range."""
    from index.catalog import Catalog
    from index.store import ChunkStore

    settings = _settings(ctx)
    figures = Catalog(settings.catalog_path).stats()
    store = ChunkStore(settings)
    chunks = store.count()
    click.echo(f"data folder: {settings.data_dir}")
    click.echo(f"chunk store: {store.location}")
    click.echo(f"articles:    {figures.articles}")
    click.echo(f"chunks:      {chunks}")
    click.echo(
        f"outlets:     {len(figures.outlets)}"
        + (f" ({', '.join(figures.outlets[:10])})" if figures.outlets else "")
    )
    click.echo(f"date range:  {figures.first_date or '-'} … {figures.last_date or '-'}")
    click.echo(
        f"folded:      {figures.exact_copies + figures.near_copies} duplicate(s) stored once "
        f"({figures.exact_copies} exact, {figures.near_copies} near)"
    )


@cli.command()
@click.option("--to", "target", required=True, metavar="http://HOST:PORT", help="The Chroma server.")
@click.option("--collection", default=None, help="Target collection (default: NEWSQA_CHROMA_COLLECTION).")
@click.option("--page", type=int, default=1000, show_default=True, help="Chunks copied per request.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def migrate(ctx: click.Context, target: str, collection: str | None, page: int, quiet: bool) -> None:
    """Copy this index's chunks into a Chroma server (idempotent), check them, say how to switch."""
    from index.migrate import migrate as run_migration

    settings = _settings(ctx)
    try:
        report = run_migration(settings, target, collection=collection, page=page, progress=not quiet)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--to") from exc
    click.echo(report.summary())
    if not report.ok:
        sys.exit(1)
    names = f"NEWSQA_CHROMA_HOST={report.host} NEWSQA_CHROMA_PORT={report.port}"
    if report.collection != "newsqa":
        names += f" NEWSQA_CHROMA_COLLECTION={report.collection}"
    click.echo(
        f"\nTo use the server, keep this data folder ({settings.data_dir}: the catalog and the BM25 index stay "
        f"in it) and set:\n  export {names}\nor per command: {names} newsqa --data-dir {settings.data_dir} "
        'ask "..."'
    )
    if not settings.chroma_host:
        click.echo(f"The embedded copy ({settings.chroma_dir}) is then no longer read and can be removed.")


@cli.command("model-server")
@click.option(
    "--model",
    "model_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A GGUF file (default: the packaged Qwen2.5-Coder-1.5B).",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8081, show_default=True)
@click.pass_context
def model_server(ctx: click.Context, model_path: Path | None, host: str, port: int) -> None:
    """Serve the local model over the OpenAI protocol, for NEWSQA_LLM=openai clients."""
    import threading

    import xllamacpp

    from qa.hosts import is_loopback
    from qa.model_files import ensure_model

    settings = _settings(ctx)
    if not is_loopback(host):
        click.echo(
            f"warning: serving the model on {host} with no API key: anyone who can reach this port can "
            "use it (keep the default 127.0.0.1, or put it behind a proxy that checks a key)",
            err=True,
        )
    params = xllamacpp.CommonParams()
    params.model.path = str(model_path or ensure_model(settings.model_dir))
    params.n_ctx = settings.n_ctx
    params.cpuparams.n_threads = settings.threads
    params.cpuparams_batch.n_threads = settings.threads
    params.hostnames = [host]
    params.port = port
    params.verbosity = 0
    server = xllamacpp.Server(params)
    click.echo(f"serving {params.model.path} at {server.listening_address}/v1 (Ctrl-C to stop)", err=True)
    with contextlib.suppress(KeyboardInterrupt):
        threading.Event().wait()


@cli.group("eval")
def evaluate() -> None:
    """Answer-accuracy evaluations on shared news question sets; print figures and write a report."""


def _eval_dir(path: Path | None) -> Path:
    from qa.evaluate.run import DEFAULT_EVAL_DIR

    folder = path or DEFAULT_EVAL_DIR
    if not folder.exists():
        raise click.ClickException(f"evaluation data not found at {folder}; pass --eval-dir")
    return folder


@evaluate.command("realtimeqa")
@click.option("--split", default="dev", show_default=True)
@click.option("--limit", type=int, default=None, help="Only the first N questions.")
@click.option("--seed", type=int, default=None, help="Shuffle the questions with this seed first.")
@click.option(
    "--corpus",
    "scope",
    type=click.Choice(["full", "search-docs"]),
    default="full",
    show_default=True,
    help="Index the whole corpus, or only the search documents of the chosen questions.",
)
@click.option("--eval-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option(
    "--report",
    "report_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("reports/realtimeqa"),
    show_default=True,
)
@click.pass_context
def eval_realtimeqa(ctx: click.Context, split: str, limit: int | None, seed: int | None, scope: str,
                    eval_dir: Path | None, report_dir: Path) -> None:  # fmt: skip
    """RealTime QA: recall@k, short-answer EM/F1, containment, multiple choice, citations, latency."""
    from qa.evaluate.run import run_realtimeqa

    run_realtimeqa(_settings(ctx), eval_dir=_eval_dir(eval_dir), split=split, limit=limit, scope=scope,
                   report_dir=report_dir, echo=click.echo, seed=seed)  # fmt: skip


@evaluate.command("rgb")
@click.option("--limit", type=int, default=None, help="Only the first N questions.")
@click.option("--eval-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option(
    "--report",
    "report_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("reports/rgb"),
    show_default=True,
)
@click.pass_context
def eval_rgb(ctx: click.Context, limit: int | None, eval_dir: Path | None, report_dir: Path) -> None:
    """RGB counterfactual set: accuracy with true passages; conflict flagged when false ones are mixed in."""
    from qa.evaluate.run import run_rgb

    run_rgb(_settings(ctx), eval_dir=_eval_dir(eval_dir), limit=limit, report_dir=report_dir, echo=click.echo)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="newsqa")


if __name__ == "__main__":
    main()
