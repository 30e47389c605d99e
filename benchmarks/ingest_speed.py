"""``newsqa bench ingest``: ingest speed against the hardware limit and against llama-index, in one run.

On the same first N articles of the RealTime QA corpus it measures:
(a) ``newsqa ingest`` into a fresh index (parse, dedupe, chunk, embed, Chroma, catalog), once per
    embedding backend (auto, this CPU's choice, and onnx by default);
(b) bare ``SentenceTransformer.encode`` (fp32, batch 32) of exactly the chunk texts (a) embedded: the
    hardware reference, the model's own forward pass;
(c) llama-index's own pipeline set up to embed every token: ``VectorStoreIndex.from_documents`` into
    Chroma with ``SentenceSplitter(chunk_size=200, chunk_overlap=20)`` and
    ``HuggingFaceEmbedding(embed_batch_size=32)``, its default metadata handling left on;
(d) llama-index out of the box (1024-token chunks, batch 10), with the share of tokens MiniLM actually
    embeds (it cuts every input at 256 tokens).
"""

from __future__ import annotations

import importlib.util
import json
import resource
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from index.embed import MAX_TOKENS, packaged_model_path
from index.settings import Settings

if TYPE_CHECKING:
    from index.ingest import Ingestor, IngestReport

DEFAULT_CORPUS = (
    Path(__file__).resolve().parent.parent.parent / "shared" / "eval" / "realtimeqa" / "corpus.jsonl"
)


class BenchSetupError(Exception):
    """The benchmark cannot start: a missing corpus or a missing optional dependency."""


@dataclass
class Run:
    """One measured pipeline."""

    name: str
    chunks: int
    tokens: int
    seconds: float
    embedded_tokens: int | None = None

    @property
    def rate(self) -> float:
        """Chunks per second."""
        return self.chunks / self.seconds if self.seconds else 0.0

    def line(self) -> str:
        """One row of the report."""
        share = (
            f"  embeds {self.embedded_tokens / self.tokens:.0%} of its tokens" if self.embedded_tokens else ""
        )
        return (
            f"{self.name:<46} {self.chunks:>6} chunks {self.tokens:>8} tokens {self.seconds:>8.1f} s "
            f"{self.rate:>7.1f} chunks/s{share}"
        )


def _timed(fn: Callable[[], object]) -> tuple[object, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def _subset(corpus: Path, n: int, folder: Path) -> Path:
    target = folder / f"articles-{n}.jsonl"
    with corpus.open() as src, target.open("w") as dst:
        for number, line in zip(range(1, n + 1), src, strict=False):
            try:
                ok = isinstance(json.loads(line).get("body"), str)
            except (ValueError, AttributeError):
                ok = False
            if not ok:
                raise BenchSetupError(
                    f"{corpus}, line {number}: not a RealTime QA record (JSON with a 'body')"
                )
            dst.write(line)
    return target


def _llama_index_run(subset: Path, chunk_size: int, overlap: int, batch: int, folder: Path, name: str) -> Run:
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from llama_index.core import Document, StorageContext, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.core.schema import MetadataMode
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.chroma import ChromaVectorStore

    docs = []
    for line in subset.read_text().splitlines():
        record = json.loads(line)
        meta = {k: record.get(k) or "" for k in ("doc_id", "title", "source", "published_at", "url")}
        docs.append(Document(text=record["body"], metadata=meta))
    embed = HuggingFaceEmbedding(model_name=packaged_model_path(), embed_batch_size=batch, device="cpu")
    tokenizer = embed._model.tokenizer  # noqa: SLF001 - the same tokenizer, to count what gets cut
    client = chromadb.PersistentClient(
        path=str(folder / name), settings=ChromaSettings(anonymized_telemetry=False)
    )
    collection = client.get_or_create_collection(
        "bench", metadata={"hnsw:space": "cosine"}, embedding_function=None
    )
    storage = StorageContext.from_defaults(vector_store=ChromaVectorStore(chroma_collection=collection))
    splitter = SentenceSplitter(chunk_size=chunk_size, chunk_overlap=overlap)
    index, seconds = _timed(
        lambda: VectorStoreIndex.from_documents(docs, storage_context=storage, transformations=[splitter],
                                                embed_model=embed)
    )  # fmt: skip
    nodes = splitter.get_nodes_from_documents(docs)
    counts = [len(tokenizer.encode(n.get_content(MetadataMode.EMBED), add_special_tokens=True, verbose=False))
              for n in nodes]  # fmt: skip
    del index
    return Run(name, len(nodes), sum(counts), seconds, sum(min(c, MAX_TOKENS) for c in counts))


def _embedded_texts(ingestor: Ingestor, report: IngestReport) -> list[str]:
    """The exact texts newsqa embedded (header + chunk), read back from the store."""
    got = ingestor.store.collection.get(include=["documents", "metadatas"])
    title_of = {a.id: a for a in report.added}
    texts = []
    for doc, meta in zip(got["documents"], got["metadatas"], strict=True):
        article = title_of[meta["article_id"]]
        header = f"{article.title}\n{article.published}" if article.published else article.title
        texts.append(f"{header}\n\n{doc}")
    return texts


def _has_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


def bench_ingest(articles: int = 300, corpus: Path = DEFAULT_CORPUS, settings: Settings | None = None,
                 echo: Callable[[str], None] = print, llama_index: bool = True,
                 backends: tuple[str, ...] = ("auto", "onnx")) -> dict[str, Run]:  # fmt: skip
    """Run the benchmark and print its figures; returns the runs by key (``a:<backend>``, b, c, d).

    (a) runs once per embedding backend, each into its own fresh index; the ONNX exports happen before
    the clock starts (printed apart: they are paid once per data folder)."""
    from index.ingest import Ingestor

    if not corpus.exists():
        raise BenchSetupError(f"RealTime QA corpus not found at {corpus}; pass --corpus")
    if llama_index and not _has_module("llama_index.embeddings.huggingface"):
        raise BenchSetupError(
            "the llama-index comparison runs need the bench extra (pip install -e '.[bench]'); "
            "or pass --no-llama-index"
        )
    settings = settings or Settings()
    runs: dict[str, Run] = {}
    with tempfile.TemporaryDirectory(prefix="newsqa-bench-") as tmp:
        folder = Path(tmp)
        subset = _subset(corpus, articles, folder)
        texts: list[str] = []
        tokens = 0
        for backend in backends:
            ingestor = Ingestor(
                settings.model_copy(
                    update={"data_dir": folder / f"newsqa-{backend}", "embed_backend": backend}
                )
            )
            _, warm = _timed(lambda i=ingestor: i.embedder.embed(["warm up"]))  # load (or export) the model
            if ingestor.embedder.backend in ("onnx", "int8"):
                echo(f"{backend}: ONNX export and load {warm:.1f} s (once per data folder, not timed below)")
            report, seconds = _timed(lambda i=ingestor: i.ingest([subset], progress=False))
            if not texts:
                texts = _embedded_texts(ingestor, report)
                tokens = sum(ingestor.embedder.count_tokens(t) for t in texts)
                echo(f"{len(report.added)} articles stored, {len(report.folded)} folded as duplicates, "
                     f"of {articles}")  # fmt: skip
            key = f"a:{backend}"
            runs[key] = Run(f"(a) newsqa ingest [{ingestor.embedder.name}]", len(texts), tokens, seconds)
            echo(runs[key].line())
            echo(f"      stages: {report.stages_line()} (read runs in its own thread, beside the rest)")

        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(packaged_model_path(), device="cpu")
        model.encode(["warm up"])
        _, seconds = _timed(lambda: model.encode(texts, batch_size=32, normalize_embeddings=True))
        runs["b"] = Run("(b) bare SentenceTransformer.encode fp32, batch 32", len(texts), tokens, seconds)
        echo(runs["b"].line())
        if llama_index:
            runs["c"] = _llama_index_run(
                subset, 200, 20, 32, folder, "(c) llama-index, 200-token chunks, batch 32"
            )
            echo(runs["c"].line())
            runs["d"] = _llama_index_run(
                subset, 1024, 200, 10, folder, "(d) llama-index out of the box (1024, batch 10)"
            )
            echo(runs["d"].line())
    for key in [k for k in runs if k.startswith("a:")]:
        a = runs[key]
        echo(f"{key[2:]:>5}: a/b = {a.rate / runs['b'].rate:.2f} (newsqa ingest chunks/s over the bare fp32 "
             f"model)" + (f", a/c = {runs['c'].seconds / a.seconds:.2f} (llama-index time over newsqa time)"
                          if "c" in runs else ""))  # fmt: skip
    if "c" in runs:
        c = runs["c"]
        echo(
            f"tokens embedded: newsqa {tokens}, llama-index (c) {c.tokens} ({c.tokens / tokens:.2f}x, metadata)"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    echo(f"peak memory of this process: {peak:.0f} MB")
    return runs
