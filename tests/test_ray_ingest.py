"""``newsqa ingest --ray``: a real two-node Ray cluster on this machine (``ray start --head`` plus one worker
node) embeds 60 articles into a real ``chroma run`` server; the worker node is killed mid-run, and the index
still equals a single-process ingest of the same articles: same article ids, chunk ids, metadata and text,
vectors to 1e-5."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import test_chroma_server
from conftest import free_port
from crash_support import done_count as _done
from crash_support import ingest_cmd as _ingest_cmd
from crash_support import write_corpus as _corpus
from test_chroma_server import ChromaServer, on_server

from index.catalog import Catalog
from index.ingest import Ingestor
from index.store import ChunkStore

pytest.importorskip(
    "ray", reason="Ray is an optional extra: pip install 'newsqa[ray]' (make test installs it)"
)

server = test_chroma_server.server  # the same module-scoped `chroma run` fixture, one server per module
RAY = Path(sys.executable).parent / "ray"
# A test cluster: no usage reports, no token to write into ~/.ray, a lost node noticed within seconds.
RAY_ENV = {
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_AUTH_MODE": "disabled",
    "RAY_health_check_period_ms": "1000",
    "RAY_health_check_timeout_ms": "1000",
    "RAY_health_check_failure_threshold": "3",
}


def _children(pid: int) -> list[int]:
    """Every descendant of ``pid`` (from /proc; psutil is not a dependency)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = [], [pid]
    while frontier:
        kids = [child for child, parent in parents.items() if parent in frontier]
        found += kids
        frontier = kids
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _pids_matching(text: str) -> list[int]:
    return [
        int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and text in _cmdline(int(p.name))
    ]


class RayCluster:
    """``ray start --head`` (2 CPUs) and one worker node (1 CPU) on 127.0.0.1, in a temp folder of their own,
    so stopping them touches no other Ray on the machine."""

    def __init__(self) -> None:
        self.temp = Path(tempfile.mkdtemp(prefix="nqray", dir="/tmp"))  # Unix socket paths must be short
        self.port, self.worker_port = free_port(), free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.env = {**os.environ, **RAY_ENV}

    def _start(self, *args: str) -> None:
        cmd = [str(RAY), "start", "--node-ip-address=127.0.0.1", "--disable-usage-stats", *args]
        done = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr

    def start(self) -> None:
        """Start the head, then the worker node."""
        self._start("--head", f"--port={self.port}", "--num-cpus=2", "--include-dashboard=false",
                    f"--temp-dir={self.temp}")  # fmt: skip
        self._start(f"--address={self.address}", "--num-cpus=1", f"--node-manager-port={self.worker_port}")

    def worker_raylet(self) -> int:
        """The worker node's raylet process."""
        (pid,) = [
            p for p in _pids_matching("raylet") if f"--node_manager_port={self.worker_port} " in _cmdline(p)
        ]
        return pid

    def kill_worker_node(self) -> None:
        """kill -9 the worker node's raylet and everything it started."""
        raylet = self.worker_raylet()
        for pid in [raylet, *_children(raylet)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def stop(self) -> None:
        """kill -9 every process of this cluster (found by its temp folder and port), then remove the folder."""
        roots = set(_pids_matching(str(self.temp))) | set(_pids_matching(f":{self.port}"))
        roots.discard(os.getpid())
        for pid in roots | {c for r in roots for c in _children(r)}:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.temp, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster() -> Iterator[RayCluster]:
    """A two-node Ray cluster for the module."""
    ray_cluster = RayCluster()
    try:
        ray_cluster.start()
        yield ray_cluster
    finally:
        ray_cluster.stop()


def _command(server: ChromaServer, data: Path, corpus: Path, collection: str) -> tuple[list[str], dict]:
    cmd, env = _ingest_cmd(data, corpus)
    return cmd, {
        **env,
        **RAY_ENV,
        "NEWSQA_EMBED_BACKEND": "onnx",  # the driver's own model file goes to the workers
        "NEWSQA_CHROMA_HOST": "127.0.0.1",
        "NEWSQA_CHROMA_PORT": str(server.port),
        "NEWSQA_CHROMA_COLLECTION": collection,
        "NEWSQA_RAY_TIMEOUT": "120",
    }


def _index(server: ChromaServer, data: Path, collection: str) -> tuple[list, dict]:
    settings = on_server(server, data, collection)
    rows = sorted(Catalog(settings.catalog_path).db.execute(
        "SELECT id, title, source_key, n_chunks, status FROM articles").fetchall())  # fmt: skip
    got = ChunkStore(settings).collection.get(include=["metadatas", "documents", "embeddings"])
    chunks = {
        i: (m, d, np.asarray(e))
        for i, m, d, e in zip(got["ids"], got["metadatas"], got["documents"], got["embeddings"], strict=True)
    }
    return rows, chunks


def _embed_workers_on(raylet: int) -> int:
    return sum(_cmdline(pid).startswith("ray::EmbedWorker") for pid in _children(raylet))


@pytest.mark.slow
def test_ray_ingest_with_a_lost_worker_equals_a_single_process_ingest(
    cluster: RayCluster, server: ChromaServer, tmp_path: Path
) -> None:
    corpus = tmp_path / "corpus.jsonl"
    _corpus(corpus, 60)
    single = tmp_path / "single"  # the reference: the command's own Ingestor, in this process, same settings
    reference = on_server(server, single, "single").model_copy(
        update={"embed_backend": "onnx", "write_batch_chunks": 48}
    )
    assert Ingestor(reference).ingest([corpus], progress=False).ok

    spread = tmp_path / "ray"
    cmd, env = _command(server, spread, corpus, "ray")
    cmd = [*cmd, "--ray", cluster.address, "--ray-workers", "2"]
    begin = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 300
    while _done(spread) < 15 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "ingest finished before the worker node could be killed; use a bigger corpus"
    assert _embed_workers_on(cluster.worker_raylet()) == 1, "no embedding worker on the worker node"
    cluster.kill_worker_node()
    killed_at = _done(spread)
    output, _ = proc.communicate(timeout=600)
    seconds = time.perf_counter() - begin
    if proc.returncode != 0:  # the job may give up on the lost node; the rerun must repair what it left
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, output + done.stdout + done.stderr
    else:
        assert "added 60 article(s)" in output, output
    print(
        f"ray ingest of 60 articles, worker node killed after {killed_at}: {seconds:.1f} s (rc {proc.returncode})"
    )

    rows, chunks = _index(server, single, "single")
    ray_rows, ray_chunks = _index(server, spread, "ray")
    assert len(rows) == 60 and all(r[4] == "done" for r in rows)
    assert ray_rows == rows
    assert sorted(ray_chunks) == sorted(chunks) and len(chunks) == sum(r[3] for r in rows)
    for chunk_id, (meta, text, vector) in chunks.items():
        ray_meta, ray_text, ray_vector = ray_chunks[chunk_id]
        assert (ray_meta, ray_text) == (meta, text)
        assert np.abs(ray_vector - vector).max() < 1e-5, chunk_id


def test_an_unreachable_cluster_is_a_one_line_error(server: ChromaServer, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    _corpus(corpus, 3)
    cmd, env = _command(server, tmp_path / "data", corpus, "unreachable")
    port = free_port()
    done = subprocess.run([*cmd, "--ray", f"127.0.0.1:{port}"], env=env, capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert done.returncode == 1
    assert f"cannot reach the Ray cluster at '127.0.0.1:{port}'" in done.stderr
    assert "Traceback" not in done.stderr
    assert _done(tmp_path / "data") == 0
