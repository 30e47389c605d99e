"""``newsqa bench ray``: what spreading the embedding over Ray workers costs and gains, in one run.

On the same first N articles of the RealTime QA corpus: ``newsqa ingest`` in one process, then with its
embedding on 1, 2, … Ray workers (``--ray ADDRESS``, default a local cluster started for the run), each into
a fresh index. The pool is started and its models loaded before the clock starts (paid once per run).
On one machine the workers share its cores, so the figures show Ray's overhead, not a cluster's gain.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.ingest_speed import BenchSetupError, _subset
from index.settings import Settings


def _ingest(settings: Settings, subset: Path, folder: Path, address: str | None, workers: int) -> tuple:
    from index.embed_ray import RayEmbedder
    from index.ingest import Ingestor

    settings = settings.model_copy(update={"data_dir": folder})
    ingestor = Ingestor(settings)
    ingestor.embedder.embed(["warm up"])  # export or load the driver's model
    embedder = RayEmbedder(ingestor.embedder, address, workers=workers) if address else ingestor.embedder
    start = time.perf_counter()
    try:
        report = Ingestor(settings, embedder, corpus=ingestor.corpus).ingest([subset], progress=False)
    finally:
        if address:
            embedder.close()
    return report, time.perf_counter() - start, embedder.name


def bench_ray(articles: int, corpus: Path, settings: Settings, address: str, workers: tuple[int, ...],
              echo: Callable[[str], None] = print) -> dict[str, float]:  # fmt: skip
    """Run the benchmark and print one line per run; returns articles/s by run name."""
    if not corpus.exists():
        raise BenchSetupError(f"RealTime QA corpus not found at {corpus}; pass --corpus")
    rates: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="newsqa-bench-ray-") as tmp:
        folder = Path(tmp)
        subset = _subset(corpus, articles, folder)
        runs = [("one process", None, 0)] + [(f"ray x{n}", address, n) for n in workers]
        for name, where, count in runs:
            report, seconds, label = _ingest(settings, subset, folder / name.replace(" ", "-"), where, count)
            rates[name] = len(report.added) / seconds
            echo(f"{name:<12} {len(report.added):>5} articles {report.chunks_added:>6} chunks {seconds:>7.1f} s "
                 f"{rates[name]:>6.2f} articles/s {report.chunks_added / seconds:>6.1f} chunks/s  [{label}]")  # fmt: skip
            echo(f"             stages: {report.stages_line()}")
    base = rates["one process"]
    echo(
        "vs one process: " + ", ".join(f"{k} {v / base:.2f}x" for k, v in rates.items() if k != "one process")
    )
    return rates
