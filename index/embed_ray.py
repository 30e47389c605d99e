"""Ingest embedding on a Ray cluster (``newsqa ingest --ray ADDRESS``, or ``auto``; ``pip install newsqa[ray]``).

Only the model's work moves. The ingesting process (the driver) still reads, parses, chunks and
de-duplicates the articles, writes the chunk store (the Chroma server of ``NEWSQA_CHROMA_HOST``, or the
embedded store) and commits the catalog and BM25 as the corpus's one owner (:mod:`index.corpus`), so a
crash or a lost worker leaves exactly what a killed single-process run leaves, and the next run repairs it.

A :class:`RayEmbedder` is an :class:`~index.embed_base.Embedder` whose ``embed`` cuts the texts of one
ingest batch into shards and runs them on a pool of Ray actors, each holding the index's own model:

- Same vectors as a single-process ingest: for ``onnx`` and ``int8`` the driver puts its own model file
  into the object store once and every actor runs that very file (no export on the workers; for ``int8``
  no second quantization that could round differently); ``fp32`` and ``bf16`` load the packaged model.
- Actors, not Ray Data ``map_batches``: routing an article (skip, replace, fold a copy) depends on what is
  already committed, so the driver forms batches in order, one at a time, while a Ray Data dataset wants
  its input up front and keeps its actors for one dataset only. The pool lives for the whole run.
- A killed worker process or a lost node: actors are created with ``max_restarts=-1`` and
  ``max_task_retries=-1``, so Ray restarts the actor where a CPU is free and runs its shard again. If no
  result comes within ``ray_timeout`` seconds the batch fails, stays pending, and the next run cleans it.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import tempfile
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from index.embed_base import EMBED_DIM, EmbedderBase

if TYPE_CHECKING:
    from index.embed_base import Embedder
    from index.tokenizer import PackagedTokenizer

log = logging.getLogger(__name__)

INSTALL_HINT = "Ray is not installed: pip install 'newsqa[ray]' (or pip install ray)"


class RayUnavailable(RuntimeError):
    """Ray is missing, or the cluster cannot be reached or has no room for a worker."""


def _import_ray() -> Any:
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # Ray reports usage over the network otherwise
    try:
        import ray
    except ImportError as exc:
        raise RayUnavailable(INSTALL_HINT) from exc
    return ray


class EmbedWorker:
    """One Ray actor: the index's model, loaded on its first call, embedding the shards it is given.

    The model's bytes come with each call as ``[ObjectRef]`` (nested, so Ray does not fetch them again) and
    not through the constructor: Ray cannot restart an actor whose constructor arguments live in the object
    store (ray-project/ray#53727), while a call's arguments stay alive as long as the driver holds them.
    ``[]`` for the torch backends, which load the packaged model.
    """

    def __init__(self, backend: str, batch_size: int, threads: int) -> None:
        self.backend, self.batch_size, self.threads = backend, batch_size, threads
        self.embedder: Any = None

    def _load(self, model: list[Any]) -> Any:
        if self.embedder is not None:
            return self.embedder
        from index.settings import use_offline_environment

        use_offline_environment()
        if self.backend in ("onnx", "int8"):
            import ray

            from index.embed_base import onnx_session
            from index.embed_onnx import OnnxEmbedder

            path = Path(tempfile.mkdtemp(prefix="newsqa-ray-model-")) / "model.onnx"
            path.write_bytes(ray.get(model[0]))
            embedder = OnnxEmbedder(path, batch_size=self.batch_size)
            embedder.session = onnx_session(path, threads=self.threads)  # its CPUs, not the machine's
        else:
            import torch

            from index.embed_torch import Bf16Embedder, TorchEmbedder

            torch.set_num_threads(self.threads)
            embedder = (Bf16Embedder if self.backend == "bf16" else TorchEmbedder)(batch_size=self.batch_size)
        self.embedder = embedder
        return embedder

    def embed(self, texts: list[str], model: list[Any]) -> np.ndarray:
        """The vectors of ``texts``, in order."""
        return self._load(model).embed(texts)

    def where(self, model: list[Any]) -> tuple[str, int]:
        """(node id, process id) of this actor, once its model is loaded."""
        import ray

        self._load(model)
        return ray.get_runtime_context().get_node_id(), os.getpid()


def _probe(address: str, timeout: float = 10.0) -> None:
    """Fail fast when nothing listens at a ``host:port`` address: ``ray.init`` retries such an address for
    many minutes before giving up. (``ray://`` addresses are left to Ray.)"""
    host, sep, port = address.rpartition(":")
    if address.startswith("ray://") or not sep or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise RayUnavailable(f"cannot reach the Ray cluster at {address!r}: {exc}") from exc


def connect(address: str) -> bool:
    """Connect this process to the Ray cluster at ``address`` (``auto``: the one ``ray start`` left on this
    machine, else a new local one bound to 127.0.0.1). Returns True when a local cluster was started here."""
    ray = _import_ray()
    if ray.is_initialized():
        return False
    kwargs: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": False}
    if address != "auto":
        _probe(address)
    try:
        if address == "auto":
            try:
                ray.init(address="auto", **kwargs)
                return False
            except ConnectionError:
                ray.init(include_dashboard=False, _node_ip_address="127.0.0.1", **kwargs)
                return True
        ray.init(address=address, **kwargs)
        return False
    except (ConnectionError, ValueError, RuntimeError) as exc:
        raise RayUnavailable(f"cannot reach the Ray cluster at {address!r}: {exc}") from exc


class RayEmbedder(EmbedderBase):
    """Embeds on a pool of Ray actors with the same backend and model as ``local`` (the driver's own
    embedder, which still counts tokens for chunking).

    ``workers`` actors of ``cpus_per_worker`` CPUs each (default: as many as the cluster's CPUs allow),
    spread over the nodes."""

    def __init__(
        self,
        local: Embedder,
        address: str = "auto",
        *,
        workers: int | None = None,
        cpus_per_worker: float = 1.0,
        timeout: float = 600.0,
    ) -> None:
        super().__init__(batch_size=local.batch_size)
        self.local = local
        self.backend = local.backend
        self.address, self.timeout = address, timeout
        self._cpus = cpus_per_worker
        self._started = connect(address)
        self._ray = _import_ray()
        self.workers = self._start_pool(workers)
        self.name = f"{local.name} on {len(self.workers)} Ray worker(s)"

    def _start_pool(self, workers: int | None) -> list[Any]:
        ray = self._ray
        cluster_cpus = float(ray.cluster_resources().get("CPU", 0))
        count = workers or int(cluster_cpus // self._cpus)
        if count < 1:
            raise RayUnavailable(
                f"the Ray cluster at {self.address!r} has {cluster_cpus:g} CPU(s), fewer than the "
                f"{self._cpus:g} one worker needs (NEWSQA_RAY_CPUS_PER_WORKER)"
            )
        model_path = getattr(self.local, "model_path", None)
        # Held by the driver for the whole run, so a restarted actor can still read it.
        self._model = [ray.put(Path(model_path).read_bytes())] if model_path is not None else []
        actor = ray.remote(EmbedWorker).options(
            num_cpus=self._cpus, max_restarts=-1, max_task_retries=-1, scheduling_strategy="SPREAD"
        )
        threads = max(1, math.floor(self._cpus))
        pool = [actor.remote(self.backend, self.batch_size, threads) for _ in range(count)]
        try:
            self._get(
                [w.where.remote(self._model) for w in pool]
            )  # every model loaded before the first batch
        except RayUnavailable:
            for worker in pool:
                ray.kill(worker)
            raise
        return pool

    def _get(self, refs: list[Any]) -> list[Any]:
        try:
            return self._ray.get(refs, timeout=self.timeout)
        except self._ray.exceptions.GetTimeoutError as exc:
            raise RayUnavailable(
                f"no answer from the Ray workers within {self.timeout:.0f} s (NEWSQA_RAY_TIMEOUT): is there a "
                "node with a free CPU? The batch stays pending; the next ingest cleans it up"
            ) from exc

    @cached_property
    def counting_tokenizer(self) -> PackagedTokenizer:
        """The driver's counting tokenizer (chunking happens on the driver)."""
        return self.local.counting_tokenizer

    def where(self) -> list[tuple[str, int]]:
        """(node id, process id) of every worker."""
        return self._get([w.where.remote(self._model) for w in self.workers])

    def _encode(self, texts: list[str], *, progress: bool) -> np.ndarray:
        # Two shards per worker, dealt in turn: each actor's queue holds work while its other shard runs.
        size = max(1, math.ceil(len(texts) / (2 * len(self.workers))))
        shards = [texts[start : start + size] for start in range(0, len(texts), size)]
        refs = [
            self.workers[i % len(self.workers)].embed.remote(shard, self._model)
            for i, shard in enumerate(shards)
        ]
        parts = self._get(refs)
        return np.concatenate(parts) if parts else np.zeros((0, EMBED_DIM), dtype=np.float32)

    def close(self) -> None:
        """Stop the workers; disconnect (and stop the local cluster if this process started it)."""
        for worker in self.workers:
            self._ray.kill(worker)
        self.workers = []
        self._ray.shutdown()
