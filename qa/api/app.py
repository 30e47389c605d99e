"""The HTTP API (``newsqa api``): FastAPI over one ``Engine``, for tools other than the chat page.

- ``POST /v1/chat/completions``: OpenAI-compatible, streaming (SSE) or not; ``model`` names the index; the
  last user message is the question, earlier turns the history; filters in the extra ``newsqa`` field; the
  sources in the extra ``citations`` field (and as a numbered list ending the text: ``api_source_list``).
- ``POST /v1/prefill``: what a user has typed so far; the model reads the articles for it while they type
  (``qa.readahead``), and the answer with the same ``session`` reads only the question fresh.
- ``POST /v1/ask``: the ``Answer`` of ``qa.ask`` as JSON. ``GET /v1/articles``: paged, searchable.
  ``POST /v1/ingest``: upload files (the Library tab's limits). ``GET /v1/stats``, ``GET /v1/models``,
  ``GET /healthz``. The OpenAPI schema is served at ``/docs``.

Answers are given one at a time, first come first served (:mod:`qa.api.queue`), as in the chat, in a
bounded line: a question that finds it full gets 503 with ``Retry-After`` (``NEWSQA_API_MAX_WAITING``), and
``/healthz`` and ``/v1/stats`` show its length and the mean answer time. Every error is JSON,
``{"error": {"message", "type", "status"}}``, with a message a person can act on. Who may call it:
:mod:`qa.api.auth`.
"""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, File, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException

from index.settings import Settings
from qa.answer import Engine
from qa.api.auth import AuthMiddleware, check_bind, credentials, error_json
from qa.api.chat import completion, completion_chunks, conversation, sse_error
from qa.api.ingest import MAX_FILES, UploadLimit, save_uploads
from qa.api.models import (
    AnswerOut,
    ArticleOut,
    ArticlesPage,
    AskRequest,
    ChatCompletion,
    ChatRequest,
    ErrorBody,
    IngestOut,
    LineOut,
    ModelList,
    PrefillOut,
    PrefillRequest,
    StatsOut,
)
from qa.api.queue import AnswerQueue, ClientGone, LineFull
from qa.hosts import is_loopback
from qa.llm import LLMError, supports_prefill
from qa.models import Answer, Reading
from qa.readahead import TypeAheads

log = logging.getLogger(__name__)

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in (
        (401, "Credentials missing or wrong"),
        (404, "No such index"),
        (413, "The upload is too large"),
        (422, "The body or a parameter is malformed"),
        (503, "The language model cannot answer, or the line is full (then with Retry-After)"),
    )
}


class ApiError(Exception):
    """An error answered as JSON with ``status`` and a message for a person."""

    def __init__(
        self,
        status: int,
        message: str,
        kind: str = "invalid_request_error",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.kind, self.headers = status, message, kind, headers or {}


def index_name(settings: Settings) -> str:
    """The index's name, the ``model`` a chat completion asks for: its data folder's name (``newsqa`` for
    the default ``.newsqa``)."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(settings.data_dir).resolve().name).strip(".-")
    return name or "newsqa"


def _error(status: int, message: str, kind: str, headers: dict[str, str] | None = None) -> Response:
    body = error_json(status, message, kind)
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    """Pydantic's errors as one sentence: ``messages: Field required; newsqa.since: ...``."""
    parts = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query")]
        where = ".".join(loc)
        if err.get("type") == "json_invalid":
            parts.append(f"the body is not valid JSON ({err.get('ctx', {}).get('error', 'parse error')})")
            continue
        text = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        text = text.removeprefix(f"{loc[-1]}: ") if loc else text  # a date's message names it already
        parts.append(f"{where}: {text}" if where else text)
    return "the request is malformed: " + "; ".join(parts or ["unreadable body"])


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def malformed(_: Request, exc: RequestValidationError) -> Response:
        return _error(422, _validation_message(exc), "invalid_request_error")

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> Response:
        messages = {404: "no such endpoint (see /docs)", 405: "this endpoint does not take that method"}
        detail = exc.detail if isinstance(exc.detail, str) and exc.status_code not in messages else None
        return _error(
            exc.status_code, detail or messages.get(exc.status_code, "request failed"), "http_error"
        )

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> Response:
        return _error(exc.status, exc.message, exc.kind, exc.headers)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> Response:
        log.exception("newsqa api: unexpected error")
        return _error(
            500, f"newsqa failed unexpectedly ({type(exc).__name__}); see the server log", "server_error"
        )


def engine_failure(exc: Exception) -> ApiError:
    """An engine error as an API error: bad options are the caller's (422), an LLM failure is 503, a full
    line 503 with ``Retry-After``; a client that left gets 499 (nobody reads it)."""
    if isinstance(exc, LineFull):
        return ApiError(503, str(exc), "queue_full", {"Retry-After": str(exc.retry_after)})
    if isinstance(exc, ClientGone):
        return ApiError(499, str(exc), "client_gone")
    if isinstance(exc, LLMError):
        return ApiError(503, str(exc), "llm_unavailable")
    if isinstance(exc, ValueError):
        return ApiError(422, str(exc))
    raise exc


def create_app(engine: Engine, settings: Settings | None = None) -> FastAPI:
    """The API over ``engine`` (one per process), with the credentials of ``settings`` (default: the
    engine's); see the module docstring."""
    settings = settings or engine.settings
    creds = credentials(settings)
    name = index_name(settings)
    app = FastAPI(
        title="newsqa API",
        version="1",
        summary="Cited answers from a pile of news articles; OpenAI-compatible chat completions.",
        responses=ERRORS,
    )
    app.add_middleware(UploadLimit, max_mb=settings.upload_max_mb)
    app.add_middleware(AuthMiddleware, creds=creds)  # added last: runs first
    app.state.queue = AnswerQueue(engine, settings.api_max_waiting)
    _install_error_handlers(app)
    _chat_routes(app, app.state.queue, name, settings)
    _corpus_routes(app, engine, name)
    return app


def _check_model(model: str, name: str) -> None:
    if model not in (name, "newsqa"):
        raise ApiError(404, f"no index named {model!r}: this server answers from {name!r}", "model_not_found")


def _chat_routes(app: FastAPI, queue: AnswerQueue, name: str, settings: Settings) -> None:
    typing = TypeAheads(queue.engine)  # each session's reading while typing (qa.readahead)

    @app.post("/v1/chat/completions", response_model=ChatCompletion, tags=["answers"])
    async def chat_completions(body: ChatRequest, request: Request) -> Any:
        """Answer the last user message from the articles (see the module docstring); with
        ``"stream": true``, as server-sent events ending with a chunk that carries ``citations``."""
        _check_model(body.model, name)
        question, history = conversation(body.messages)
        options = (body.newsqa.engine_options() if body.newsqa else {}) | {"history": history}
        session = body.newsqa.session if body.newsqa else None
        options["prepared"] = None if history else typing.enter(session, question)
        with_sources = settings.api_source_list
        if not body.stream:
            try:
                answer = await queue.answer(question, gone=request.is_disconnected, **options)
            except Exception as exc:  # noqa: BLE001 - sorted by engine_failure
                raise engine_failure(exc) from exc
            return JSONResponse(completion(answer, name, with_sources=with_sources))
        events = queue.events(question, gone=request.is_disconnected, sources_first=True, **options)
        try:
            first = await anext(events)  # an error before the first word is still a proper status
        except Exception as exc:  # noqa: BLE001 - sorted by engine_failure
            raise engine_failure(exc) from exc
        return StreamingResponse(
            _guarded(first, events, name, with_sources),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},  # for proxies on the way
        )

    @app.post("/v1/ask", response_model=AnswerOut, tags=["answers"])
    async def ask(body: AskRequest, request: Request) -> Any:
        """The ``Answer`` of ``qa.ask`` as JSON: text, citations with their passages, every retrieved
        passage, timings, the rewritten follow-up, the filters applied."""
        try:
            prepared = None if body.history else typing.enter(body.session, body.question)
            answer = await queue.answer(
                body.question, gone=request.is_disconnected, history=body.history, prepared=prepared,
                **body.engine_options(),
            )  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - sorted by engine_failure
            raise engine_failure(exc) from exc
        return AnswerOut.model_validate(answer)

    @app.post("/v1/prefill", response_model=PrefillOut, status_code=202, tags=["answers"])
    def prefill(body: PrefillRequest) -> Any:
        """Read the articles for a question while it is being typed (send the text so far every second
        or so, and at each pause; the same ``session`` in the ``newsqa`` options of the chat completion, or
        in ``/v1/ask``, then reads only the question fresh when the search finds the same passages). It
        returns at once; an answer being written always goes first."""
        box = typing.get(body.session)
        assert box is not None
        box.typed(body.question, **body.engine_options())
        reply: dict[str, Any] = {"session": body.session, "reading": supports_prefill(queue.engine.llm)}
        done = box.wait_read(body.question, body.wait) if body.wait and reply["reading"] else None
        if done is not None:
            figures = done.prefilled
            reply |= {
                "read_tokens": figures.read,
                "cached_tokens": figures.cached,
                "complete": figures.complete,
            }
        return reply

    @app.get("/v1/models", response_model=ModelList, tags=["answers"])
    def models() -> Any:
        """The index this server answers from, as the one model (``newsqa`` is accepted as well)."""
        return {"data": [{"id": name}]}


async def _guarded(first: str | Reading | Answer, events: Any, name: str, with_sources: bool) -> Any:
    """The SSE chunks; an error mid-answer becomes an ``error`` event (the status was already sent)."""
    try:
        async for chunk in completion_chunks(first, events, name, with_sources=with_sources):
            yield chunk
    except LLMError as exc:
        yield sse_error(503, str(exc), "llm_unavailable")
    except ClientGone:
        return  # nobody reads the rest
    except Exception:  # noqa: BLE001 - reported to the client in words, logged in full
        log.exception("newsqa api: answer failed mid-stream")
        yield sse_error(500, "newsqa failed while writing the answer; see the server log", "server_error")
    finally:
        await events.aclose()


def _line(queue: AnswerQueue) -> LineOut:
    return LineOut.model_validate(queue.state(), from_attributes=True)


def _corpus_routes(app: FastAPI, engine: Engine, name: str) -> None:
    ingestor = engine.ingestor()  # the Library tab's way: one ingestor sharing the engine's corpus

    @app.get("/v1/articles", response_model=ArticlesPage, tags=["corpus"])
    def articles(
        q: Annotated[str, Query(description="Words that must all appear in title, outlet or date.")] = "",
        page: Annotated[int, Query(ge=1)] = 1,
        per_page: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> Any:
        """The stored articles matching ``q``, newest first, one page at a time."""
        words = q.lower().split()
        rows = [
            r for r in engine.catalog.rows()
            if all(w in f"{r.title} {r.outlet or ''} {r.published or ''}".lower() for w in words)
        ]  # fmt: skip
        rows.sort(key=lambda r: (r.published or "", r.id), reverse=True)
        shown = rows[(page - 1) * per_page : page * per_page]
        found = [
            ArticleOut(id=r.id, title=r.title, outlet=r.outlet or "", date=(r.published or "")[:10],
                       url=r.url or "", chunks=r.n_chunks)
            for r in shown
        ]  # fmt: skip
        return ArticlesPage(total=len(rows), page=page, per_page=per_page, articles=found)

    @app.post("/v1/ingest", response_model=IngestOut, tags=["corpus"])
    def ingest(
        files: Annotated[list[UploadFile], File(description="Article files (formats of ingest).")],
    ) -> Any:
        """Upload and ingest files (multipart, field ``files``) with the Library tab's checks (types,
        ``NEWSQA_UPLOAD_MAX_MB`` per file); one result per file. 422 when no file could be ingested."""
        if len(files) > MAX_FILES:
            raise ApiError(413, f"{len(files)} files in one upload: send at most {MAX_FILES} per request")
        outcome, ingested = save_uploads(ingestor, files)
        if not ingested:
            reasons = "; ".join(f"{f.file}: {f.details or f.result}" for f in outcome.files)
            raise ApiError(422, f"no file was ingested: {reasons}")
        return outcome

    @app.get("/v1/stats", response_model=StatsOut, tags=["corpus"])
    def stats() -> Any:
        """Corpus figures: articles, chunks, outlets, date range, folded duplicates; and the answer line."""
        figures = engine.catalog.stats()
        return StatsOut(index=name, articles=figures.articles, chunks=engine.store.count(),
                        outlets=figures.outlets, first_date=figures.first_date, last_date=figures.last_date,
                        folded_exact=figures.exact_copies, folded_near=figures.near_copies,
                        line=_line(app.state.queue))  # fmt: skip

    @app.get("/healthz", tags=["corpus"])
    def healthz() -> dict[str, Any]:
        """Liveness, without credentials: ``{"status": "ok"}`` and the answer line (``LineOut``: questions
        answering and waiting, the limit, the mean answer time)."""
        return {"status": "ok", **_line(app.state.queue).model_dump()}


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8008, *, insecure: bool = False) -> None:
    """Serve the API with uvicorn until interrupted. Refuses (``ApiConfigError``) an address other machines
    can reach when no credential is configured, unless ``insecure``; checked before anything loads."""
    import uvicorn

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    creds = credentials(settings)
    check_bind(host, creds, insecure=insecure)
    if not creds.required and not is_loopback(host):
        log.warning(
            "serving the API on %s without credentials (--insecure): anyone who can reach it can use it", host
        )
    engine = Engine(settings)
    _warm_up(engine)  # before listening: a first request must not import the model libraries mid-flight
    app = create_app(engine, settings)
    shown = f"[{host}]" if ":" in host else host
    print(
        f"newsqa API for index {index_name(settings)!r} at http://{shown}:{port}/v1 (schema at /docs)",
        file=sys.stderr,
    )
    uvicorn.run(app, host=host, port=port, log_level="info")


def _warm_up(engine: Engine) -> None:
    """Load the embedding model and start the LLM (two threads importing transformers' lazy modules at once
    can fail); an LLM that cannot start yet is reported again, with its fix, on the first question."""
    try:
        engine.warm_up()
    except Exception as exc:  # noqa: BLE001 - reported again when a question is asked
        log.warning("could not start the LLM yet: %s", exc)


__all__ = ["create_app", "index_name", "serve"]
