"""The ``newsqa`` command line: ingest articles, ask questions, serve the chat, show corpus figures."""

from __future__ import annotations

import contextlib
import sys
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

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


def _split_targets(targets: tuple[str, ...]) -> tuple[list[Path], list[str]]:
    """Command-line arguments as files / folders and URLs (``scheme://...``; any scheme but http(s) is
    refused per URL when it is fetched)."""
    from index.fetch import is_url

    paths = [Path(t) for t in targets if not is_url(t)]
    urls = [t for t in targets if is_url(t)]
    return paths, urls


@cli.command()
@click.argument("targets", nargs=-1, required=True, metavar="PATH_OR_URL...")
@click.option(
    "--field",
    "fields",
    multiple=True,
    metavar="FIELD=NAME",
    help="Read FIELD (title, body, published, outlet, url, author, id) from column/key NAME.",
)
@click.option("--prune", is_flag=True, help="Also remove articles whose source files are gone.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.option(
    "--ray",
    "ray_address",
    metavar="ADDRESS",
    help="Embed on a Ray cluster (host:port, ray://…, or auto for the one on this machine or a new "
    "local one); needs newsqa[ray].",
)
@click.option(
    "--ray-workers", type=click.IntRange(min=1), help="Ray embedding workers (default: one per CPU)."
)
@click.pass_context
def ingest(
    ctx: click.Context,
    targets: tuple[str, ...],
    fields: tuple[str, ...],
    prune: bool,
    quiet: bool,
    ray_address: str | None,
    ray_workers: int | None,
) -> None:
    """Add article files or folders to the index, or http(s) URLs.

    \b
    Files: .txt .md .html .htm .json .jsonl .csv (and their .gz);
      .pdf (text layer; one article per file), .docx (one article per file),
      .warc .warc.gz .arc .arc.gz (web archives: each HTML page an article),
      .eml .mbox (e-mail newsletters: each message an article).
    URLs: RSS / Atom feeds and news sitemaps or sitemap indexes (their pages are fetched),
      and single article pages.
    Files of other types found in folders are skipped and counted by type."""
    from index.embed_ray import RayUnavailable
    from index.ingest import Ingestor
    from qa.answer import Engine

    paths, urls = _split_targets(targets)
    engine = Engine(_settings(ctx))
    embedder = _ray_embedder(engine, ray_address, ray_workers) if ray_address else engine.embedder
    web = None
    try:
        ingestor = Ingestor(engine.settings, embedder, corpus=engine.corpus)
        options = {"progress": not quiet, "field_map": _field_map(fields), "prune": prune}
        if urls:  # the only way this command touches the network
            from index.web import ingest_urls

            web, report = ingest_urls(engine.settings, urls, ingestor, paths=paths, **options)
        else:
            report = ingestor.ingest(paths, **options)
    except RayUnavailable as exc:  # the cluster went away mid-run: what was committed stays
        raise click.ClickException(str(exc)) from exc
    finally:
        if embedder is not engine.embedder:
            embedder.close()
    if web is not None:
        click.echo(web.fetch_line())
    click.echo(report.summary())
    if not quiet and report.chunks_added:
        click.echo(f"time: {report.stages_line()} (embedded with {embedder.name})", err=True)
    trained = engine.update_reranker(progress=not quiet)
    if trained:
        click.echo(trained)
    sys.exit(0 if report.ok else 1)


def _ray_embedder(engine: Any, address: str, workers: int | None) -> Any:
    """The engine's embedder spread over a Ray cluster's workers, or a one-line error."""
    from index.embed_ray import RayEmbedder, RayUnavailable

    settings = engine.settings
    try:
        return RayEmbedder(
            engine.embedder,
            address,
            workers=workers or settings.ray_workers,
            cpus_per_worker=settings.ray_cpus_per_worker,
            timeout=settings.ray_timeout,
        )
    except RayUnavailable as exc:
        raise click.ClickException(str(exc)) from exc


@cli.group()
def feedback() -> None:
    """The thumbs up / down (and notes) readers gave answers in the chat."""


@feedback.command("export")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write here (default: stdout)."
)
@click.option("--user", help="Only this user's ratings.")
@click.option("--rating", type=click.Choice(["up", "down"]), help="Only thumbs up, or only thumbs down.")
@click.pass_context
def feedback_export(ctx: click.Context, output: Path | None, user: str | None, rating: str | None) -> None:
    """Write every rating as JSON lines, oldest first: user, conversation, turn, rating, note, the question,
    the answer with its citations and passages, the search options and the settings it was made with."""
    import json

    from qa.conversations import FILE_NAME, ConversationStore

    settings = _settings(ctx)
    if not (settings.data_dir / FILE_NAME).is_file():
        raise click.ClickException(f"no saved conversations in {settings.data_dir} (nothing was rated yet)")
    store = ConversationStore.in_folder(settings.data_dir)
    rows = [json.dumps(row, ensure_ascii=False) for row in store.feedback(user=user, rating=rating)]
    text = "".join(f"{row}\n" for row in rows)
    if output is None:
        click.echo(text, nl=False)
    else:
        from index.atomic import write_text_atomic

        write_text_atomic(output, text)
    click.echo(f"{len(rows)} rating(s)" + (f" written to {output}" if output else ""), err=True)


@cli.group()
def feeds() -> None:
    """The feeds listed in the data folder (<data>/feeds.json), and polling them."""


@feeds.command("add")
@click.argument("url")
@click.pass_context
def feeds_add(ctx: click.Context, url: str) -> None:
    """List the RSS or Atom feed, or news sitemap (or sitemap index), at URL (http or https); nothing is
    fetched until 'newsqa feeds poll' (later polls fetch only a sitemap's pages dated after the last one)."""
    from index.feedlist import FeedList, FeedListError
    from index.fetch import FetchError

    settings = _settings(ctx)
    try:
        state, new = FeedList(settings.data_dir, settings.write_wait).add(url)
    except (FetchError, FeedListError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{'added' if new else 'already listed'}: {state.url}")


@feeds.command("list")
@click.pass_context
def feeds_list(ctx: click.Context) -> None:
    """The listed feeds: URL, title, last check, articles it added, last error."""
    from index.feedlist import FeedList, FeedListError

    settings = _settings(ctx)
    try:
        listed = FeedList(settings.data_dir, settings.write_wait).feeds()
    except FeedListError as exc:
        raise click.ClickException(str(exc)) from exc
    if not listed:
        click.echo("no feeds listed (add one with: newsqa feeds add URL)")
    for feed in listed:
        added = "-" if feed.last_added is None else feed.last_added
        click.echo(f"{feed.url}" + (f"  ({feed.title})" if feed.title else ""))
        click.echo(f"    last checked {feed.last_checked or 'never'} · added {added}")
        if feed.last_error:
            click.echo(f"    error: {feed.last_error}")


@feeds.command("remove")
@click.argument("url")
@click.pass_context
def feeds_remove(ctx: click.Context, url: str) -> None:
    """Take the feed at URL off the list (the articles it brought stay in the index)."""
    from index.feedlist import FeedList, FeedListError

    settings = _settings(ctx)
    try:
        removed = FeedList(settings.data_dir, settings.write_wait).remove(url)
    except FeedListError as exc:
        raise click.ClickException(str(exc)) from exc
    if not removed:
        raise click.ClickException(f"not listed: {url} (see newsqa feeds list)")
    click.echo(f"removed: {url}")


@feeds.command("poll")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.pass_context
def feeds_poll(ctx: click.Context, quiet: bool) -> None:
    """Check every listed feed once and ingest its new and changed articles."""
    from index.feedlist import FeedListError
    from index.web import poll_feeds
    from qa.answer import Engine

    engine = Engine(_settings(ctx))
    try:
        report = poll_feeds(engine.settings, ingestor=engine.ingestor(), progress=not quiet)
    except FeedListError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(report.summary())
    if report.added or report.replaced:
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


def _search_filters(command: Any) -> Any:
    """``--outlet`` (repeatable), ``--since`` and ``--until``, for ``ask`` and ``timeline``."""
    for option in reversed([
        click.option("--outlet", "outlets", multiple=True, help="Only articles from this outlet (repeatable)."),
        click.option("--since", help="Only articles published on or after this date (YYYY-MM-DD)."),
        click.option("--until", help="Only articles published on or before this date (YYYY-MM-DD)."),
    ]):  # fmt: skip
        command = option(command)
    return command


@cli.command()
@click.argument("question")
@click.option("--top-k", type=int, default=None, help="Passages to retrieve (default: NEWSQA_TOP_K).")
@_search_filters
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
    from qa.llm import LLMError
    from qa.models import Answer, Reading

    _check_dates(since, until, as_of)
    engine = Engine(_settings(ctx))
    options = {"since": since, "until": until, "outlets": list(outlets), "as_of": as_of}
    streamed: list[str] = []
    style = "short" if short else "normal"
    try:
        for item in engine.stream(question, top_k=top_k, style=style, sources_first=True, **options):
            if isinstance(item, Answer):
                answer = item
            elif isinstance(item, Reading):  # on stderr, so stdout stays the answer
                lines = [f"  [{p.n}] {p.label()}" for p in item.passages]
                click.echo("Reading:\n" + "\n".join(lines), err=True)
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
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--every",
    "minutes",
    type=click.FloatRange(min=0.05),
    help="Minutes between checks of the feed list (default: NEWSQA_WATCH_FEED_MINUTES).",
)
@click.pass_context
def watch(ctx: click.Context, paths: tuple[Path, ...], minutes: float | None) -> None:
    """Keep the index current: ingest new, changed and deleted article files under PATHS as they happen,
    and check the feed list (newsqa feeds add) every few minutes. One line per run; Ctrl-C stops."""
    from index.feedlist import FeedList
    from index.ingest import Ingestor
    from index.watch import Watcher

    settings = _settings(ctx)
    if not paths and not FeedList(settings.data_dir, settings.write_wait).feeds():
        raise click.UsageError("nothing to watch: give folders or files, or add feeds (newsqa feeds add URL)")
    watcher = Watcher(Ingestor(settings), paths, feed_minutes=minutes or settings.watch_feed_minutes,
                      echo=lambda line: click.echo(line))  # fmt: skip
    click.echo(
        f"watching {', '.join(map(str, watcher.roots)) or 'the feed list only'}; Ctrl-C stops", err=True
    )
    try:
        watcher.run()
    except KeyboardInterrupt:
        click.echo("stopped", err=True)


def _check_dates(since: str | None, until: str | None, as_of: str | None) -> None:
    """A malformed --since / --until / --as-of is a usage error naming the option."""
    from qa.dates import to_date

    for value, hint in ((since, "--since"), (until, "--until"), (as_of, "--as-of")):
        try:
            to_date(value, hint)
        except ValueError as exc:
            raise click.BadParameter(str(exc).split(": ", 1)[1], param_hint=hint) from exc


@cli.command()
@click.argument("story")
@_search_filters
@click.option("--as-of", "as_of", help="Anchor for 'this week' and the like (YYYY-MM-DD; default today).")
@click.option(
    "--limit", type=click.IntRange(min=1), help="Most articles (default: NEWSQA_TIMELINE_ARTICLES)."
)
@click.option("--summaries", is_flag=True, help="Add one cited sentence per day, written by the LLM.")
@click.pass_context
def timeline(
    ctx: click.Context,
    story: str,
    outlets: tuple[str, ...],
    since: str | None,
    until: str | None,
    as_of: str | None,
    limit: int | None,
    summaries: bool,
) -> None:
    """The articles about STORY in date order, grouped by day, copies folded with every outlet."""
    from qa.answer import Engine
    from qa.llm import LLMError
    from qa.timeline import build_timeline

    _check_dates(since, until, as_of)
    engine = Engine(_settings(ctx))
    try:
        result = build_timeline(engine, story, since=since, until=until, outlets=list(outlets), as_of=as_of,
                                limit=limit, summarize=summaries)  # fmt: skip
    except LLMError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(result.text())


@cli.command()
@click.option("--host", default=None, help="Address to bind (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default 7860).")
@click.option("--api", "with_api", is_flag=True, help="Also serve the HTTP API (newsqa api) under /api.")
@click.option("--insecure", is_flag=True, help="Allow --api on a non-loopback --host without credentials.")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, with_api: bool, insecure: bool) -> None:
    """Start the chat in the browser (ingests the sample corpus if the index is empty); with --api, the
    OpenAI-compatible API too, at http://HOST:PORT/api/v1 (schema at /api/docs)."""
    from qa.api.auth import ApiConfigError, check_bind, credentials
    from qa.ui import page

    settings = _settings(ctx)
    try:
        if with_api:
            check_bind(host or settings.host, credentials(settings), insecure=insecure)
        page.main(host=host, port=port, settings=settings, with_api=with_api)
    except ApiConfigError as exc:
        raise click.ClickException(str(exc)) from exc


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


@cli.command("api")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", type=int, default=8008, show_default=True, help="Port.")
@click.option(
    "--insecure",
    is_flag=True,
    help="Allow an address other machines can reach with no NEWSQA_API_KEYS / NEWSQA_AUTH set.",
)
@click.pass_context
def api(ctx: click.Context, host: str, port: int, insecure: bool) -> None:
    """Serve the HTTP API: OpenAI-compatible /v1/chat/completions, /v1/ask, /v1/articles, /v1/ingest,
    /v1/stats, /healthz; the schema at /docs."""
    from qa.api.auth import ApiConfigError, check_bind, credentials

    settings = _settings(ctx)
    try:
        check_bind(host, credentials(settings), insecure=insecure)  # before the heavy imports
        from qa.api.app import serve

        serve(settings, host=host, port=port, insecure=insecure)
    except ApiConfigError as exc:
        raise click.ClickException(str(exc)) from exc


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
    from qa.llm import reader_params
    from qa.model_files import ensure_model

    settings = _settings(ctx)
    if not is_loopback(host):
        click.echo(
            f"warning: serving the model on {host} with no API key: anyone who can reach this port can "
            "use it (keep the default 127.0.0.1, or put it behind a proxy that checks a key)",
            err=True,
        )
    params = reader_params(xllamacpp.CommonParams(), settings)
    params.model.path = str(model_path or ensure_model(settings.model_dir))
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
@click.option("--short-only", is_flag=True, help="Only the short answers (recall, EM, F1): 3x faster.")
@click.option(
    "--without-normal", is_flag=True, help="Skip the normal cited answer (short and multiple choice only)."
)
@click.option(
    "--compare-spans",
    is_flag=True,
    help="Also answer short and multiple choice with NEWSQA_ANSWER_SPANS the other way round.",
)
@click.pass_context
def eval_realtimeqa(ctx: click.Context, split: str, limit: int | None, seed: int | None, scope: str,
                    eval_dir: Path | None, report_dir: Path, short_only: bool, without_normal: bool,
                    compare_spans: bool) -> None:  # fmt: skip
    """RealTime QA: recall@k, short-answer EM/F1, containment, multiple choice, citations, latency."""
    from qa.evaluate.run import run_realtimeqa

    run_realtimeqa(_settings(ctx), eval_dir=_eval_dir(eval_dir), split=split, limit=limit, scope=scope,
                   report_dir=report_dir, echo=click.echo, seed=seed, short_only=short_only,
                   compare_spans=compare_spans, without_normal=without_normal)  # fmt: skip


@evaluate.command("multihop")
@click.option("--limit", type=int, default=None, help="Only the first N questions.")
@click.option("--seed", type=int, default=None, help="Shuffle the questions with this seed first.")
@click.option(
    "--corpus",
    "scope",
    type=click.Choice(["full", "evidence"]),
    default="full",
    show_default=True,
    help="Index all 609 articles, or only the chosen questions' evidence articles and as many others.",
)
@click.option("--retrieval-only", is_flag=True, help="Only Hits@4 / Hits@10 / MRR@10 (no model: fast).")
@click.option(
    "--compare-spans",
    is_flag=True,
    help="Also answer with NEWSQA_ANSWER_SPANS the other way round (cached prompt).",
)
@click.option("--eval-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option(
    "--report",
    "report_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("reports/multihop"),
    show_default=True,
)
@click.pass_context
def eval_multihop(ctx: click.Context, limit: int | None, seed: int | None, scope: str, retrieval_only: bool,
                  compare_spans: bool, eval_dir: Path | None, report_dir: Path) -> None:  # fmt: skip
    """MultiHop-RAG: Hits@4/@10, lenient accuracy, exact match and F1 by question type, nulls declined."""
    from qa.evaluate.multihop import run_multihop

    run_multihop(_settings(ctx), eval_dir=_eval_dir(eval_dir), limit=limit, seed=seed, scope=scope,
                 report_dir=report_dir, echo=click.echo, retrieval_only=retrieval_only,
                 compare_spans=compare_spans)  # fmt: skip


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
