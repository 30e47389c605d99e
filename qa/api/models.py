"""The bodies of the HTTP API (``newsqa api``, :mod:`qa.api`): pydantic models, so a malformed request is a
422 naming its field and every body is documented in the OpenAPI schema at ``/docs``.

The answer's own models (``AnswerOut`` and its parts) mirror :mod:`qa.models` field for field and are read
straight from an ``Answer`` (``AnswerOut.model_validate(answer)``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from qa.dates import to_date


class Options(BaseModel):
    """newsqa's options for one question: the ``newsqa`` field of a chat completion, and part of /v1/ask."""

    model_config = ConfigDict(extra="forbid")

    since: str | None = Field(None, description="Only articles published on or after this day (YYYY-MM-DD).")
    until: str | None = Field(None, description="Only articles published on or before this day (YYYY-MM-DD).")
    outlets: list[str] | None = Field(None, description="Only articles from these outlets (names).")
    as_of: str | None = Field(
        None,
        description="Answer as of this day (YYYY-MM-DD, default today): anchors 'this week' and leaves out "
        "later articles.",
    )
    top_k: int | None = Field(None, ge=1, le=20, description="Passages retrieved (default NEWSQA_TOP_K).")
    style: Literal["normal", "short"] = Field("normal", description="'short': as few words as possible.")
    session: str | None = Field(
        None,
        max_length=128,
        description="The question box this comes from: what POST /v1/prefill read ahead for the same "
        "session is used when it found the same passages.",
    )

    @field_validator("since", "until", "as_of")
    @classmethod
    def _day(cls, value: str | None, info: Any) -> str | None:
        day = to_date(value, info.field_name)  # the message names the field and the expected form
        return day.isoformat() if day else None

    @field_validator("outlets", mode="before")
    @classmethod
    def _one_outlet(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    def engine_options(self) -> dict[str, Any]:
        """Keyword arguments for ``Engine.stream``."""
        return self.model_dump(exclude={"question", "history", "session", "wait"})


class ContentPart(BaseModel):
    """One part of a message's content; only ``{"type": "text", "text": ...}`` is understood."""

    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    """One chat turn, as in the OpenAI protocol."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None

    @model_validator(mode="after")
    def _text_only(self) -> ChatMessage:
        if isinstance(self.content, list):
            other = [p.type for p in self.content if p.type != "text"]
            if other:
                raise ValueError(f"only text content is understood, not {other[0]!r}")
        return self

    def text(self) -> str:
        """The message's text (text parts joined)."""
        if isinstance(self.content, list):
            return "".join(p.text or "" for p in self.content)
        return self.content or ""


class ChatRequest(BaseModel):
    """``POST /v1/chat/completions``: the last message is the question (from the user), earlier user and
    assistant turns are the history. OpenAI's other fields (``temperature``, ``max_tokens``...) are
    accepted and ignored: newsqa answers at temperature 0 with its own length limit."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(description="The newsqa index to ask (see GET /v1/models).")
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    newsqa: Options | None = Field(None, description="Filters and options (an extra body field).")

    @model_validator(mode="after")
    def _ends_with_a_question(self) -> ChatRequest:
        last = self.messages[-1]
        if last.role != "user":
            raise ValueError(f"the last message must be the user's question, not a {last.role!r} message")
        if not last.text().strip():
            raise ValueError("the last message (the question) is empty")
        return self


class AskRequest(Options):
    """``POST /v1/ask``: a question, its options, and earlier (question, answer) pairs."""

    question: str = Field(min_length=1, description="The question.")
    history: list[tuple[str, str]] = Field(
        default_factory=list, description="Earlier [question, answer] pairs (a follow-up is rewritten)."
    )

    @field_validator("question")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the question is empty")
        return value


class PrefillRequest(Options):
    """``POST /v1/prefill``: what a user has typed so far, sent again as they type (every second or so,
    and at each pause); the model reads the articles for it while they finish the question."""

    question: str = Field(description="The question as typed so far.")
    session: str = Field(min_length=1, max_length=128, description="Names the question box (any id).")
    wait: float = Field(
        0.0,
        ge=0,
        le=60,
        description="Seconds to wait for this text's read-ahead to finish (0: return at once).",
    )


class PrefillOut(BaseModel):
    """The read-ahead was taken (it runs in the background; a newer text for the session supersedes it)."""

    session: str
    reading: bool = Field(description="Whether this server's model can read ahead (a llama.cpp server).")
    read_tokens: int | None = Field(None, description="With ``wait``: prompt tokens read ahead now.")
    cached_tokens: int | None = Field(None, description="With ``wait``: tokens the model already had.")
    complete: bool | None = Field(None, description="With ``wait``: whether it read up to the question.")


class _Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class PassageOut(_Read):
    """A retrieved chunk, numbered as it appeared in the prompt ([n])."""

    n: int
    chunk_id: str
    article_id: str
    title: str
    outlet: str
    date: str
    url: str
    text: str
    score: float


class OtherReportOut(_Read):
    """Another outlet that carried the same story."""

    outlet: str
    date: str
    url: str
    title: str = ""


class CitationOut(_Read):
    """One checked ``[n]``: the article, the supporting quote (a sentence of ``passage.text``)."""

    n: int
    quote: str
    article_id: str
    title: str
    outlet: str
    date: str
    url: str
    passage: PassageOut
    also_reported_by: list[OtherReportOut] = []


class TimingsOut(_Read):
    """Milliseconds spent, and the prompt's tokens (when the model server reports them)."""

    retrieve_ms: float
    first_token_ms: float | None
    total_ms: float
    prompt_tokens: int | None = Field(None, description="Prompt tokens the model read fresh.")
    cached_tokens: int | None = Field(None, description="Prompt tokens found in the model's cache.")


class AnswerOut(_Read):
    """The ``Answer`` of ``qa.ask``, field for field."""

    question: str
    text: str
    citations: list[CitationOut]
    passages: list[PassageOut]
    timings: TimingsOut
    model: str
    abstained: bool
    abstain_reason: str | None
    rewritten_question: str | None
    filters: dict[str, Any]
    style: str
    retrieved: list[PassageOut]
    freshness_note: str | None


class SourceOut(BaseModel):
    """A citation of a chat completion (the ``citations`` field): ``[n]`` in the text points to it."""

    n: int
    title: str
    outlet: str
    date: str
    url: str
    quote: str = Field(description="The sentence of the cited article that supports the claim.")
    article_id: str


class AssistantMessage(BaseModel):
    """The answer as a chat message."""

    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    """The one choice of a completion."""

    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop"] = "stop"


class AnswerInfo(BaseModel):
    """What newsqa adds about the answer (the ``newsqa`` field of a completion)."""

    question: str = Field(description="The question answered (the last user message).")
    abstained: bool
    abstain_reason: str | None
    rewritten_question: str | None = Field(description="The standalone form of a follow-up.")
    filters: dict[str, Any] = Field(description="The date / outlet filters the search applied.")
    llm: str = Field(description="The language model that wrote the answer ('' when none was asked).")


class ReadingInfo(BaseModel):
    """The first chunk of a streamed completion, before any text (the ``newsqa`` field): the passages the
    model is about to read, numbered as the answer's ``[n]`` will be (a quick way to show sources first)."""

    reading: list[PassageOut] = Field(description="The passages in the prompt, as the model reads them.")
    retrieve_ms: float = Field(description="Milliseconds from the question until they were known.")


class ChatCompletion(BaseModel):
    """An OpenAI chat completion with newsqa's ``citations`` and ``newsqa`` fields."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    citations: list[SourceOut]
    newsqa: AnswerInfo


class ArticleOut(BaseModel):
    """One stored article."""

    id: str
    title: str
    outlet: str
    date: str
    url: str
    chunks: int


class ArticlesPage(BaseModel):
    """A page of the articles matching the search, newest first."""

    total: int = Field(description="Articles matching the search, in all.")
    page: int
    per_page: int
    articles: list[ArticleOut]


class FileOut(BaseModel):
    """What became of one uploaded file."""

    file: str
    result: str
    details: str = ""


class IngestOut(BaseModel):
    """The result of an upload: one line per file, and the ingest summary."""

    ok: bool = Field(description="False when a file was refused or failed.")
    summary: str
    files: list[FileOut]
    skipped: dict[str, int] = Field(
        default_factory=dict, description="Files refused for their type, counted by type ({'.pptx': 2})."
    )


class LineOut(BaseModel):
    """The answer line: questions are answered one at a time, and a question that finds ``max_waiting``
    waiting gets 503 with ``Retry-After``."""

    answering: int = Field(description="Questions being answered now (0 or 1).")
    waiting: int = Field(description="Questions waiting for their turn behind it.")
    max_waiting: int = Field(description="The most that may wait now (NEWSQA_API_MAX_WAITING, or derived).")
    auto: bool = Field(description="Whether max_waiting is derived from the mean answer time (about 2 min).")
    mean_answer_s: float | None = Field(description="Mean seconds of the last 20 answers (null before one).")
    retry_after_s: int = Field(description="The Retry-After a question turned away now is given.")
    answered: int = Field(description="Answers finished since the server started.")
    turned_away: int = Field(description="Questions refused with 503 because the line was full.")


class StatsOut(BaseModel):
    """Corpus figures, and the answer line."""

    index: str
    articles: int
    chunks: int
    outlets: list[str]
    first_date: str | None
    last_date: str | None
    folded_exact: int
    folded_near: int
    line: LineOut


class ModelOut(BaseModel):
    """An index, as an OpenAI model."""

    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "newsqa"


class ModelList(BaseModel):
    """The indexes this server answers from (one)."""

    object: Literal["list"] = "list"
    data: list[ModelOut]


class ErrorDetail(BaseModel):
    """What went wrong, for a person to read."""

    message: str
    type: str
    status: int


class ErrorBody(BaseModel):
    """Every error: ``{"error": {"message", "type", "status"}}`` (the OpenAI clients read ``message``)."""

    error: ErrorDetail
