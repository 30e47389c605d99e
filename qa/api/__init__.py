"""The HTTP API (``newsqa api``, and ``/api`` beside the chat page): :mod:`qa.api.app` builds the FastAPI
app; :mod:`qa.api.auth` says who may call it, :mod:`qa.api.chat` speaks OpenAI's chat completions,
:mod:`qa.api.ingest` takes uploads, :mod:`qa.api.models` holds the bodies, :mod:`qa.api.queue` the bounded
line of questions. Nothing is imported here, so ``import qa.api.auth`` stays light."""
