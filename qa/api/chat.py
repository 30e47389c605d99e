"""``POST /v1/chat/completions`` in newsqa's terms: the conversation becomes a question and its history, and
an ``Answer`` becomes an OpenAI completion (or a stream of SSE chunks) whose text keeps its ``[n]`` markers,
with the sources in the extra ``citations`` field and, when ``api_source_list`` is on, as a numbered list
at the end of the text for clients that show only text.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from qa.api.models import AnswerInfo, ChatCompletion, ChatMessage, PassageOut, ReadingInfo, SourceOut
from qa.models import Answer, Reading

SOURCES_HEADING = "Sources:"
CHECKED_HEADING = "Checked answer:"


def conversation(messages: list[ChatMessage]) -> tuple[str, list[tuple[str, str]]]:
    """The question (the last message, the user's) and the history: each earlier user message with the
    assistant reply that follows it (system messages and unanswered questions are left out). A reply that
    this API wrote is read back without its source list, and as its checked answer when it has one."""
    question = messages[-1].text().strip()
    history: list[tuple[str, str]] = []
    asked: str | None = None
    for message in messages[:-1]:
        if message.role == "user":
            asked = message.text().strip()
        elif message.role == "assistant" and asked is not None:
            history.append((asked, answer_part(message.text())))
            asked = None
    return question, history


def answer_part(text: str) -> str:
    """An answer as this API wrote it, without the source list, and its checked form when it had one."""
    text = text.split(f"\n\n{SOURCES_HEADING}\n", 1)[0]
    if f"\n\n{CHECKED_HEADING} " in text:
        text = text.rsplit(f"\n\n{CHECKED_HEADING} ", 1)[1]
    return text.strip()


def source_list(answer: Answer) -> str:
    """``\\n\\nSources:\\n[1] Title — Outlet, 2021-12-31 — https://...`` (empty when nothing is cited)."""
    if not answer.citations:
        return ""
    lines = [f"[{c.n}] {c.passage.label()}" + (f" — {c.url}" if c.url else "") for c in answer.citations]
    return f"\n\n{SOURCES_HEADING}\n" + "\n".join(lines)


def sources(answer: Answer) -> list[dict[str, Any]]:
    """The ``citations`` field: n, title, outlet, date, url, quote (and the article's id)."""
    return [
        SourceOut(
            n=c.n,
            title=c.title,
            outlet=c.outlet,
            date=c.date,
            url=c.url,
            quote=c.quote,
            article_id=c.article_id,
        ).model_dump()
        for c in answer.citations
    ]


def info(answer: Answer) -> dict[str, Any]:
    """The ``newsqa`` field: the question, abstention, the rewritten follow-up, the filters, the LLM."""
    return AnswerInfo(
        question=answer.question,
        abstained=answer.abstained,
        abstain_reason=answer.abstain_reason,
        rewritten_question=answer.rewritten_question,
        filters=answer.filters,
        llm=answer.model,
    ).model_dump()


def completion_id() -> str:
    """A fresh ``chatcmpl-...`` id."""
    return f"chatcmpl-{uuid.uuid4().hex}"


def completion(answer: Answer, model: str, *, with_sources: bool) -> dict[str, Any]:
    """The whole answer as one chat completion."""
    text = answer.text + (source_list(answer) if with_sources else "")
    body = ChatCompletion(
        id=completion_id(),
        created=int(time.time()),
        model=model,
        choices=[{"message": {"content": text}}],
        citations=sources(answer),
        newsqa=info(answer),
    )
    return body.model_dump()


def _chunk(ident: str, created: int, model: str, delta: dict[str, Any], **extra: Any) -> str:
    body = {
        "id": ident,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": extra.pop("finish_reason", None)}],
        **extra,
    }
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


def sse_error(status: int, message: str, kind: str) -> str:
    """An error in the middle of a stream (the OpenAI clients raise it with its message)."""
    return f"data: {json.dumps({'error': {'message': message, 'type': kind, 'status': status}})}\n\n"


def reading_info(reading: Reading) -> dict[str, Any]:
    """The ``newsqa`` field of a stream's first chunk: the passages about to be read."""
    passages = [PassageOut.model_validate(p) for p in reading.passages]
    return ReadingInfo(reading=passages, retrieve_ms=round(reading.retrieve_ms, 1)).model_dump()


async def completion_chunks(
    first: str | Reading | Answer, rest: AsyncIterator[str | Reading | Answer], model: str, *,
    with_sources: bool,
) -> AsyncIterator[str]:  # fmt: skip
    """The answer as OpenAI SSE chunks: the assistant role (with, in ``newsqa.reading``, the passages the
    model is about to read, when the search found some), the text pieces as they are written, then, if
    the checked answer differs from what was streamed (a citation removed, or the answer withdrawn), a
    ``Checked answer:`` line as the CLI prints it, the source list, and a last chunk with ``finish_reason``,
    ``citations`` and ``newsqa``; then ``data: [DONE]``."""
    ident, created = completion_id(), int(time.time())
    item = first
    extra = {}
    if isinstance(item, Reading):
        extra = {"newsqa": reading_info(item)}
        item = await anext(rest)
    yield _chunk(ident, created, model, {"role": "assistant", "content": ""}, **extra)
    streamed: list[str] = []
    while not isinstance(item, Answer):
        if isinstance(item, Reading):  # not expected twice; never sent as text
            item = await anext(rest)
            continue
        streamed.append(item)
        yield _chunk(ident, created, model, {"content": item})
        item = await anext(rest)
    answer = item
    tail = "" if answer.text == "".join(streamed).strip() else f"\n\n{CHECKED_HEADING} {answer.text}"
    tail += source_list(answer) if with_sources else ""
    if tail:
        yield _chunk(ident, created, model, {"content": tail})
    yield _chunk(
        ident, created, model, {}, finish_reason="stop", citations=sources(answer), newsqa=info(answer)
    )
    yield "data: [DONE]\n\n"
