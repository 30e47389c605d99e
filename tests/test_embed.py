"""Embedding backends (fp32, onnx, bf16, int8): one interface, unit vectors, close to fp32, ONNX exported once,
and the backend an index was built with followed by ``auto``."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

import index.embed_onnx as embed_onnx
from index.embed import EMBED_DIM, MAX_TOKENS, Embedder, make_embedder
from index.settings import Settings

TEXTS = [
    "Putin warned Biden that new sanctions could lead to a complete rupture of relations between the two.",
    "Talks are set for Geneva on January 10.",
    "Russia and the United States will hold security talks in three tracks: bilateral, NATO and OSCE. "
    "Officials said the aim was to lower tensions over the Ukrainian border, where troops have massed.",
    "A fire broke out during a New Year's celebration at a ski resort bar in Switzerland.",
    "Stocks fell.",
]
LONG = "The central bank raised interest rates again on Wednesday, citing persistent inflation. " * 30

# Measured with benchmarks/embed_backends.py on 12,094 RealTime QA chunks: cosine with fp32 is ≥ 0.9999 for
# bf16 (mean 0.99998) and ≥ 0.979 for int8 (mean 0.994); the bounds leave a margin.
MIN_COSINE = {"fp32": 0.99999, "onnx": 0.99999, "bf16": 0.999, "int8": 0.97}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One data folder for the module, so the int8 model is exported once."""
    return tmp_path_factory.mktemp("embed-data")


@pytest.fixture(scope="module")
def fp32_vectors(data_dir: Path) -> np.ndarray:
    """The reference: fp32 vectors of TEXTS + [LONG]."""
    return make_embedder(Settings(data_dir=data_dir, embed_backend="fp32")).embed([*TEXTS, LONG])


@pytest.mark.parametrize("backend", ["fp32", "onnx", "bf16", "int8"])
def test_backend_gives_unit_vectors(backend: str, data_dir: Path) -> None:
    embedder = make_embedder(Settings(data_dir=data_dir, embed_backend=backend, embed_batch_size=2))
    assert isinstance(embedder, Embedder)
    assert embedder.backend == backend and backend in embedder.name
    assert embedder.batch_size == 2 and embedder.dim == EMBED_DIM

    vectors = embedder.embed([*TEXTS, LONG])  # batches of 2: sorting, padding and order restored
    assert vectors.shape == (len(TEXTS) + 1, EMBED_DIM) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.embed([]).shape == (0, EMBED_DIM)

    query = embedder.embed_query(TEXTS[1])
    assert isinstance(query, list) and len(query) == EMBED_DIM
    # the same text alone or in a batch (int8 scales activations per batch, so it moves a little)
    assert float(np.dot(query, vectors[1])) >= MIN_COSINE[backend]


@pytest.mark.parametrize("backend", ["onnx", "bf16", "int8"])
def test_backend_close_to_fp32(backend: str, data_dir: Path, fp32_vectors: np.ndarray) -> None:
    embedder = make_embedder(Settings(data_dir=data_dir, embed_backend=backend, embed_batch_size=4))
    vectors = embedder.embed([*TEXTS, LONG])
    cosines = (vectors * fp32_vectors).sum(axis=1)
    assert cosines.min() >= MIN_COSINE[backend], cosines
    # and each text stays nearest to its own fp32 vector (nothing shuffled)
    assert ((vectors @ fp32_vectors.T).argmax(axis=1) == np.arange(len(vectors))).all()


@pytest.mark.parametrize("backend", ["fp32", "onnx", "int8"])
def test_count_tokens(backend: str, data_dir: Path) -> None:
    embedder = make_embedder(Settings(data_dir=data_dir, embed_backend=backend))
    assert embedder.count_tokens("hello world") == 4  # [CLS] hello world [SEP]
    assert embedder.count_tokens(LONG) > MAX_TOKENS  # counted before truncation
    assert embedder.tokenizer.encode("hello world", add_special_tokens=False) == [7592, 2088]


def test_int8_model_exported_once_and_reused(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(data_dir=data_dir, embed_backend="int8")
    first = make_embedder(settings)
    first.embed_query("warm up")
    model_file = data_dir / "models" / embed_onnx.INT8_MODEL_FILE
    stat = model_file.stat()
    assert stat.st_size > 10_000_000

    def no_export(*args: object, **kwargs: object) -> None:
        raise AssertionError("the int8 model was exported again")

    monkeypatch.setattr(embed_onnx, "export_int8", no_export)
    second = make_embedder(settings)
    np.testing.assert_allclose(second.embed(TEXTS), first.embed(TEXTS), atol=1e-6)
    after = model_file.stat()
    assert (after.st_mtime_ns, after.st_ino) == (stat.st_mtime_ns, stat.st_ino)
    assert not list(model_file.parent.glob(".export-*"))  # no temporary leftovers


def test_concurrent_first_use_exports_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Path] = []

    def slow_export(target: Path, **kwargs: object) -> dict[str, str]:
        calls.append(target)
        threading.Event().wait(0.3)  # the other caller arrives while this one holds the lock
        target.write_bytes(b"model")
        return {}

    monkeypatch.setattr(embed_onnx, "export_int8", slow_export)
    results: list[Path] = []
    threads = [
        threading.Thread(target=lambda: results.append(embed_onnx.ensure_int8_model(tmp_path)))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert results == [tmp_path / embed_onnx.INT8_MODEL_FILE] * 3


def test_failed_export_leaves_no_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embed_onnx, "_MIN_PROBE_COSINE", 1.01)  # no int8 model can pass this check
    embedder = make_embedder(Settings(data_dir=tmp_path, embed_backend="int8"))
    with pytest.raises(RuntimeError, match="int8 embedding model is off"):
        embedder.embed(["anything"])
    models = tmp_path / "models"
    assert not (models / embed_onnx.INT8_MODEL_FILE).exists()
    assert not list(models.glob(".export-*"))


def test_auto_follows_the_backend_the_index_was_built_with(tmp_path: Path) -> None:
    from conftest import SAMPLE

    from index.catalog import Catalog
    from index.embed import DEFAULT_BACKEND, resolve_backend
    from index.ingest import EMBED_BACKEND_KEY, Ingestor

    assert resolve_backend("auto") == DEFAULT_BACKEND == "onnx"
    assert resolve_backend("auto", "int8") == "int8" and resolve_backend("fp32", "int8") == "fp32"
    built = Settings(data_dir=tmp_path / "data", embed_backend="fp32")
    assert Ingestor(built).ingest([SAMPLE], progress=False).ok
    assert Catalog(built.catalog_path).get_meta(EMBED_BACKEND_KEY) == "fp32"
    # a later process with the default setting embeds questions with the index's own backend
    later = Ingestor(Settings(data_dir=tmp_path / "data"))
    assert later.embedder.backend == "fp32"
    assert later.ingest([SAMPLE], progress=False).ok  # unchanged articles: the record stays
    assert Catalog(built.catalog_path).get_meta(EMBED_BACKEND_KEY) == "fp32"
