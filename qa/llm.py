"""LLM backends behind one small interface: ``stream(messages) -> text pieces``.

- ``local``: llama.cpp (the ``xllamacpp`` wheel) running the packaged Qwen2.5-Coder-1.5B in this process. It
  serves the OpenAI protocol on a private 127.0.0.1 port, so both backends speak through the same client.
- ``openai``: any OpenAI-compatible server (vLLM, Ollama, llama.cpp, a hosted provider).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from index.settings import Settings


class LLMError(RuntimeError):
    """The LLM backend cannot start or answer; the message says what is missing and how to fix it."""


class LLM(Protocol):
    """What the answer pipeline needs from a language model."""

    name: str

    def stream(self, messages: list[dict[str, str]], *, max_tokens: int) -> Iterator[str]:
        """Yield the reply to a chat, piece by piece, at temperature 0."""
        ...


class OpenAICompatibleLLM:
    """Chat completions over the OpenAI protocol (streaming, temperature 0)."""

    def __init__(self, base_url: str, model: str, api_key: str | None, name: str | None = None) -> None:
        import openai

        self.name = name or model
        self.model = model
        self.base_url = base_url
        self._client = openai.OpenAI(base_url=base_url, api_key=api_key or "not-needed", max_retries=2)

    def stream(self, messages: list[dict[str, str]], *, max_tokens: int) -> Iterator[str]:
        """Yield the reply piece by piece."""
        import openai

        try:
            response = self._client.chat.completions.create(
                model=self.model, messages=messages, max_tokens=max_tokens, temperature=0, stream=True
            )
            for event in response:
                if event.choices and event.choices[0].delta.content:
                    yield event.choices[0].delta.content
        except openai.APIConnectionError as exc:
            raise LLMError(
                f"cannot reach the LLM server at {self.base_url}: {exc}. Is it running? "
                "Check NEWSQA_OPENAI_BASE_URL."
            ) from exc
        except openai.APIStatusError as exc:
            raise LLMError(f"the LLM server at {self.base_url} refused the request: {exc}") from exc


class LocalLLM(OpenAICompatibleLLM):
    """llama.cpp in-process (xllamacpp), loaded once, listening only on 127.0.0.1."""

    def __init__(self, model_path: Path, *, name: str, threads: int, n_ctx: int, port: int = 0) -> None:
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
        super().__init__(f"{self._server.listening_address}/v1", model="local", api_key=None, name=name)


_lock = threading.Lock()
_loaded: dict[tuple, LLM] = {}


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
        key = ("openai", settings.openai_base_url, settings.openai_model, settings.openai_api_key)
        factory = lambda: OpenAICompatibleLLM(  # noqa: E731
            settings.openai_base_url, settings.openai_model, settings.openai_api_key
        )
    else:
        key = ("local", settings.local_model_path, settings.model_dir, settings.threads, settings.n_ctx)
        factory = lambda: _start_local(settings)  # noqa: E731
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
    return LocalLLM(path, name=name, threads=settings.threads, n_ctx=settings.n_ctx)
