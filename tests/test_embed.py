"""Embedding backends (fp32, onnx, bf16, int8): one protocol, unit vectors, close to fp32, ONNX exported once,
and the backend an index was built with followed by ``auto``."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

import index.onnx_export as onnx_export
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
    model_file = data_dir / "models" / onnx_export.INT8_MODEL_FILE
    stat = model_file.stat()
    assert stat.st_size > 10_000_000
    shared = settings.model_dir / onnx_export.INT8_MODEL_FILE  # the machine's, quantized once
    assert model_file.read_bytes() == shared.read_bytes()  # the index keeps its own copy

    def no_export(*args: object, **kwargs: object) -> None:
        raise AssertionError("an ONNX model was exported again")

    monkeypatch.setattr(onnx_export, "export_fp32", no_export)
    monkeypatch.setattr(onnx_export, "export_int8", no_export)
    second = make_embedder(settings)
    np.testing.assert_allclose(second.embed(TEXTS), first.embed(TEXTS), atol=1e-6)
    after = model_file.stat()
    assert (after.st_mtime_ns, after.st_ino) == (stat.st_mtime_ns, stat.st_ino)
    assert not list(model_file.parent.glob(".export-*"))  # no temporary leftovers


def fake_exports(monkeypatch: pytest.MonkeyPatch, wait: float = 0.0) -> list[str]:
    """Replace both exports with ones that write a stub file; returns the exports made, in order."""
    calls: list[str] = []

    def export_fp32(target: Path) -> None:
        calls.append("fp32")
        threading.Event().wait(wait)  # another caller arrives while this one holds the lock
        target.write_bytes(b"fp32 model")

    def export_int8(target: Path, fp32_file: Path) -> dict[str, str]:
        assert fp32_file.read_bytes() == b"fp32 model"  # quantized from the fp32 file beside it
        calls.append("int8")
        target.write_bytes(b"int8 model")
        return {}

    monkeypatch.setattr(onnx_export, "export_fp32", export_fp32)
    monkeypatch.setattr(onnx_export, "export_int8", export_int8)
    return calls


def test_concurrent_first_use_exports_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = fake_exports(monkeypatch, wait=0.3)
    results: list[Path] = []
    threads = [
        threading.Thread(target=lambda: results.append(onnx_export.ensure_int8_model(tmp_path)))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == ["fp32", "int8"]
    assert results == [tmp_path / onnx_export.INT8_MODEL_FILE] * 3


def test_new_indexes_copy_the_machines_int8_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = fake_exports(monkeypatch)
    shared = tmp_path / "machine"
    first = onnx_export.ensure_index_int8_model(tmp_path / "a" / "models", shared)
    second = onnx_export.ensure_index_int8_model(tmp_path / "b" / "models", shared)
    assert calls == ["fp32", "int8"]  # quantized once, for the machine
    assert first.read_bytes() == second.read_bytes() == b"int8 model"
    assert not (tmp_path / "a" / "models" / onnx_export.FP32_MODEL_FILE).exists()
    (shared / onnx_export.INT8_MODEL_FILE).write_bytes(b"another library version")
    assert (
        onnx_export.ensure_index_int8_model(tmp_path / "a" / "models", shared).read_bytes() == b"int8 model"
    )


def test_fp32_export_builds_no_int8_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = fake_exports(monkeypatch)
    assert onnx_export.ensure_onnx_model(tmp_path, "fp32") == tmp_path / onnx_export.FP32_MODEL_FILE
    assert calls == ["fp32"] and not (tmp_path / onnx_export.INT8_MODEL_FILE).exists()
    onnx_export.ensure_onnx_model(tmp_path, "int8")  # quantizes the fp32 file already there
    assert calls == ["fp32", "int8"]
    onnx_export.ensure_onnx_model(tmp_path, "fp32")
    onnx_export.ensure_onnx_model(tmp_path, "int8")
    assert calls == ["fp32", "int8"]


def test_quiet_export_leaves_the_root_logger_alone() -> None:
    import logging

    import onnxruntime

    class Keep(logging.Handler):
        def __init__(self) -> None:
            super().__init__()
            self.messages: list[str] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.messages.append(record.getMessage())

    root = logging.getLogger()
    keep = Keep()
    root.addHandler(keep)
    noisy = logging.getLogger("onnxruntime.quantization.test")

    def state() -> tuple:
        levels = tuple(logging.getLogger(name).level for name in ("onnxruntime", "torch.onnx"))
        return root.level, list(root.handlers), list(root.filters), levels

    before = state()
    quantizer = str(Path(onnxruntime.__file__).parent / "quantization" / "quantize.py")
    try:
        with onnx_export._quiet_export():  # noqa: SLF001
            noisy.warning("noisy advice")
            root.handle(root.makeRecord("root", logging.WARNING, quantizer, 1, "root-level advice", (), None))
            logging.getLogger("newsqa.other").warning("someone else's warning")
            root.warning("a root warning from elsewhere")
        after = state()
    finally:
        root.removeHandler(keep)
    assert keep.messages == ["someone else's warning", "a root warning from elsewhere"]
    assert after == before


def test_embedding_modules_import_downward() -> None:
    """embed_base ← embed_torch, onnx_export ← embed_onnx ← embed (the factory): no module imports upward."""
    import ast

    order = ["index.embed_base", "index.embed_torch", "index.onnx_export", "index.embed_onnx", "index.embed"]
    root = Path(__file__).resolve().parents[1]
    for rank, module in enumerate(order):
        tree = ast.parse((root / (module.replace(".", "/") + ".py")).read_text())
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        assert not imported & set(order[rank:]), (module, imported & set(order[rank:]))


def test_packaged_tokenizer_gives_the_ids_of_transformers(sample_copy: Path) -> None:
    """index.tokenizer reads the model's tokenizer.json with ``tokenizers``: the same ids as transformers'
    AutoTokenizer, one text at a time (with and without special tokens, never truncated) and in batches
    cut to the model's limit, padded or not (2,107 RealTime QA titles, bodies and random texts matched too)."""
    import random

    from transformers import AutoTokenizer

    from index.embed_base import load_tokenizer, packaged_model_path

    hf = AutoTokenizer.from_pretrained(packaged_model_path(), local_files_only=True)
    ours = load_tokenizer()
    rng = random.Random(5)
    texts = [
        *TEXTS,
        LONG,
        "",
        " ",
        "héllo Wörld — “quotes” ½ ﬁ",
        "東京で地震 ไทย שלום مرحبا 🎉",
        "a\u200bb\x00c\td\r\n",
    ]
    texts += [p.read_text(errors="replace") for p in sorted(sample_copy.rglob("*")) if p.is_file()]
    texts += ["".join(chr(rng.randint(1, 0x2FFF)) for _ in range(rng.randint(1, 400))) for _ in range(40)]
    for text in texts:
        for special in (True, False):
            assert ours.encode(text, add_special_tokens=special) == hf.encode(
                text, add_special_tokens=special
            )
    cut = {"truncation": True, "max_length": MAX_TOKENS}
    assert ours(texts, **cut)["input_ids"] == hf(texts, **cut)["input_ids"]
    assert max(len(ids) for ids in ours(texts, **cut)["input_ids"]) == MAX_TOKENS
    padded, want = (
        ours(texts, padding=True, return_tensors="np", **cut),
        hf(texts, padding=True, return_tensors="np", **cut),
    )
    for key in ("input_ids", "attention_mask", "token_type_ids"):
        assert padded[key].shape == want[key].shape and (padded[key] == want[key]).all(), key
    assert ours.pad_token_id == hf.pad_token_id


def test_the_onnx_backend_needs_neither_torch_nor_transformers(tmp_path: Path) -> None:
    """Counting and embedding with the default backend import neither (transformers imports torch: ~4 s of
    every process that ingests or answers)."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from index.embed import make_embedder\n"
        "from index.settings import Settings\n"
        f"e = make_embedder(Settings(data_dir={str(tmp_path)!r}, embed_backend='onnx'))\n"
        "assert e.count_tokens('Talks in Geneva') == 5 and e.embed(['Talks in Geneva']).shape == (1, 384)\n"
        "print(sorted(m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules))\n"
    )
    make_embedder(Settings(data_dir=tmp_path, embed_backend="onnx")).embed(
        ["x"]
    )  # exported here (torch), once
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", done.stdout


def test_failed_export_leaves_no_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(onnx_export, "_MIN_PROBE_COSINE", 1.01)  # no int8 model can pass this check
    machine = tmp_path / "machine"  # a machine without an int8 model yet (its fp32 export is reused)
    machine.mkdir()
    fp32 = onnx_export.ensure_onnx_model(Settings().model_dir, "fp32")
    shutil.copyfile(fp32, machine / onnx_export.FP32_MODEL_FILE)
    settings = Settings(data_dir=tmp_path / "data", model_dir=machine, embed_backend="int8")
    with pytest.raises(RuntimeError, match="int8 embedding model is off"):
        make_embedder(settings).embed(["anything"])
    for models in (machine, tmp_path / "data" / "models"):
        assert not (models / onnx_export.INT8_MODEL_FILE).exists()
        assert not list(models.glob(".export-*"))


def test_auto_follows_the_backend_the_index_was_built_with(tmp_path: Path) -> None:
    from conftest import SAMPLE

    from index.catalog import Catalog
    from index.embed import auto_backend, resolve_backend
    from index.ingest import EMBED_BACKEND_KEY, Ingestor

    assert resolve_backend("auto") == auto_backend() == "onnx"
    assert resolve_backend("auto", "int8") == "int8" and resolve_backend("fp32", "int8") == "fp32"
    built = Settings(data_dir=tmp_path / "data", embed_backend="fp32")
    assert Ingestor(built).ingest([SAMPLE], progress=False).ok
    assert Catalog(built.catalog_path).get_meta(EMBED_BACKEND_KEY) == "fp32"
    # a later process with the default setting embeds questions with the index's own backend
    later = Ingestor(Settings(data_dir=tmp_path / "data"))
    assert later.embedder.backend == "fp32"
    assert later.ingest([SAMPLE], progress=False).ok  # unchanged articles: the record stays
    assert Catalog(built.catalog_path).get_meta(EMBED_BACKEND_KEY) == "fp32"
