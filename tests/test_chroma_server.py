"""newsqa against a real Chroma server (``chroma run`` from the installed chromadb) instead of the embedded
store: ingest, retrieve and answer, prune and stats, ``newsqa migrate``, the server going away and coming
back, and ``kill -9`` of an ingest into the server."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import chromadb
import httpx
import pytest
from chromadb.config import Settings as ChromaSettings
from click.testing import CliRunner
from conftest import REPO, SAMPLE, free_port
from crash_support import index_state, ingest_cmd, kill_mid_ingest

from index.catalog import Catalog
from index.embed import Embedder, make_embedder
from index.ingest import Ingestor
from index.lexical import LexicalIndex
from index.settings import Settings
from index.store import ChunkStore, StoreUnavailable
from qa.cli import cli
from qa.retrieve import Retriever

CHROMA = Path(sys.executable).parent / "chroma"
QUESTIONS = ["What did Putin warn Biden about?", "Where will the US–Russia talks be held?"]
NEW_ARTICLE = (
    "Harbor strike ends\nMar 2, 2022\nDock workers in Rotterdam ended a three-day strike on Wednesday "
    "after the port authority agreed to a new wage deal, the union said."
)


class ChromaServer:
    """A ``chroma run`` subprocess on 127.0.0.1 that can be stopped and started again on the same path
    and port."""

    def __init__(self, path: Path, port: int) -> None:
        self.path = path
        self.port = port
        self.log = path.parent / f"{path.name}.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> float:
        """Start the server and wait until its heartbeat answers; returns the seconds that took."""
        begin = time.perf_counter()
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    str(CHROMA),
                    "run",
                    "--path",
                    str(self.path),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chroma run exited with {self.proc.returncode}; see {self.log}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/api/v2/heartbeat", timeout=1).is_success:
                    return time.perf_counter() - begin
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(
            f"chroma run did not answer on port {self.port} within {timeout} s; see {self.log}"
        )

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 15 s)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    """One real Chroma server for the module; each test uses its own collection."""
    chroma = ChromaServer(tmp_path_factory.mktemp("chroma-server") / "db", free_port())
    chroma.start()
    yield chroma
    chroma.stop()


@pytest.fixture(scope="module")
def embedder(tmp_path_factory: pytest.TempPathFactory) -> Embedder:
    """One embedding model shared by the module's in-process ingests (the default ONNX fp32 backend, its
    model exported once per machine; the chunk store does not care which backend made the vectors)."""
    return make_embedder(Settings(data_dir=tmp_path_factory.mktemp("embedder"), embed_backend="onnx"))


def on_server(server: ChromaServer, data: Path, collection: str) -> Settings:
    """Settings of a data folder whose chunks live in ``collection`` on the test server."""
    return Settings(
        data_dir=data, chroma_host="127.0.0.1", chroma_port=server.port, chroma_collection=collection
    )


def server_env(server: ChromaServer, collection: str) -> dict[str, str]:
    """The environment variables that point newsqa at ``collection`` on the test server."""
    return {
        "NEWSQA_EMBED_BACKEND": "onnx",  # the default: a command starts without loading torch's model
        "NEWSQA_CHROMA_HOST": "127.0.0.1",
        "NEWSQA_CHROMA_PORT": str(server.port),
        "NEWSQA_CHROMA_COLLECTION": collection,
    }


def raw_collection(server: ChromaServer, name: str):  # noqa: ANN201 - chromadb Collection
    """The collection as Chroma's own client sees it (not through newsqa)."""
    client = chromadb.HttpClient(
        host="127.0.0.1", port=server.port, settings=ChromaSettings(anonymized_telemetry=False)
    )
    return client.get_collection(name)


def retriever_for(settings: Settings, embedder: Embedder, store: ChunkStore | None = None) -> Retriever:
    """A hybrid retriever over ``settings``' store and BM25 index."""
    store = store or ChunkStore(settings)
    lexical = LexicalIndex(settings.data_dir, store, Catalog(settings.catalog_path))
    return Retriever(embedder, store, lexical)


def test_ingest_and_retrieve_from_the_server(
    server: ChromaServer, embedder: Embedder, tmp_path: Path
) -> None:
    settings = on_server(server, tmp_path / "data", "sample")
    ingestor = Ingestor(settings, embedder)
    first = ingestor.ingest([SAMPLE], progress=False)
    assert first.ok and len(first.added) == 2 and first.chunks_added >= 4
    assert ingestor.store.count() == first.chunks_added
    assert raw_collection(server, "sample").count() == first.chunks_added  # the chunks are on the server
    assert not settings.chroma_dir.exists()  # nothing embedded
    assert settings.catalog_path.exists() and (settings.data_dir / "bm25").is_dir()  # these stay local

    again = ingestor.ingest([SAMPLE], progress=False)
    assert len(again.added) == 0 and len(again.unchanged) == 2
    assert ingestor.store.count() == first.chunks_added

    passages = retriever_for(settings, embedder).retrieve(QUESTIONS[0], 4)
    assert [p.n for p in passages] == [1, 2, 3, 4]
    assert passages[0].score > settings.min_relevance
    assert any("sever" in p.text.lower() for p in passages)
    dense = retriever_for(settings, embedder).retrieve(QUESTIONS[1], 4, {"since": "2022-01-01"}, mode="dense")
    assert dense == []  # metadata filters are applied by the server


@pytest.mark.slow
def test_answer_from_the_server(server: ChromaServer, sample_engine, tmp_path: Path) -> None:
    from qa.answer import Engine

    settings = on_server(server, tmp_path / "data", "answer")
    engine = Engine(settings, llm=sample_engine.llm)  # the session's model: never two loaded at once
    assert len(engine.ingestor().ingest([SAMPLE], progress=False).added) == 2
    answer = engine.ask(QUESTIONS[1], style="short")  # the store is under test, not the answer's length
    assert not answer.abstained, answer
    assert "geneva" in answer.text.lower() and answer.citations
    for c in answer.citations:
        assert c.quote in c.passage.text and c.date == "2021-12-31"


def test_prune_and_stats_on_the_server(
    server: ChromaServer, embedder: Embedder, sample_copy: Path, tmp_path: Path
) -> None:
    settings = on_server(server, tmp_path / "data", "prune")
    ingestor = Ingestor(settings, embedder)
    first = ingestor.ingest([sample_copy], progress=False)
    assert len(first.added) == 2
    gone = sorted(sample_copy.iterdir())[0]
    gone_id = next(a.id for a in first.added if a.source_path == str(gone))
    kept_chunks = sum(r.n_chunks for r in ingestor.catalog.rows() if r.id != gone_id)
    gone.unlink()

    report = ingestor.ingest([sample_copy], progress=False, prune=True)
    assert report.pruned == [gone_id]
    assert ingestor.store.count() == kept_chunks == raw_collection(server, "prune").count()
    left = raw_collection(server, "prune").get(include=["metadatas"])["metadatas"]
    assert {m["article_id"] for m in left} == {r.id for r in ingestor.catalog.rows()}

    result = CliRunner().invoke(
        cli, ["--data-dir", str(settings.data_dir), "stats"], env=server_env(server, "prune")
    )
    assert result.exit_code == 0, result.output
    assert "articles:    1" in result.output and f"chunks:      {kept_chunks}\n" in result.output
    assert f"Chroma server http://127.0.0.1:{server.port}, collection prune" in result.output


def test_migrate_an_embedded_index_to_the_server(
    server: ChromaServer, embedder: Embedder, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    embedded = Settings(data_dir=data, chroma_collection="migrated")
    assert Ingestor(embedded, embedder).ingest([SAMPLE], progress=False).ok
    before = {q: retriever_for(embedded, embedder).retrieve(q, 4) for q in QUESTIONS}
    source_count = ChunkStore(embedded).count()

    runner = CliRunner()
    args = ["--data-dir", str(data), "migrate", "--to", f"http://127.0.0.1:{server.port}", "--quiet"]
    env = {"NEWSQA_CHROMA_COLLECTION": "migrated", "NEWSQA_CHROMA_HOST": ""}
    for _ in range(2):  # the second run upserts the same chunks again: nothing changes
        result = runner.invoke(cli, args, env=env)
        assert result.exit_code == 0, result.output
        assert f"copied {source_count} chunk(s)" in result.output
        assert f"the server holds the same {source_count} chunk ids" in result.output
        assert f"NEWSQA_CHROMA_HOST=127.0.0.1 NEWSQA_CHROMA_PORT={server.port}" in result.output
        assert raw_collection(server, "migrated").count() == source_count

    served = on_server(server, data, "migrated")  # same data folder: same catalog and BM25 index
    for question, passages in before.items():
        after = retriever_for(served, embedder).retrieve(question, 4)
        assert [(p.chunk_id, p.text, p.title, p.date) for p in after] == [
            (p.chunk_id, p.text, p.title, p.date) for p in passages
        ]
        assert [p.score for p in after] == pytest.approx([p.score for p in passages], abs=1e-5)

    foreign = raw_collection(server, "migrated")
    foreign.upsert(ids=["stray:0"], embeddings=[[0.0] * 384], documents=["stray"], metadatas=[{"x": 1}])
    result = runner.invoke(cli, args, env=env)
    assert result.exit_code == 1 and "VERIFICATION FAILED" in result.output and "1 there" in result.output

    dead = free_port()
    result = runner.invoke(cli, [*args[:4], f"http://127.0.0.1:{dead}", "--quiet"], env=env)
    assert result.exit_code == 1
    assert f"the Chroma server at 127.0.0.1:{dead} is unavailable" in result.output
    assert "Traceback" not in result.output and not isinstance(result.exception, StoreUnavailable)
    bad = runner.invoke(cli, [*args[:4], "ftp://127.0.0.1:1"], env=env)
    assert bad.exit_code == 2 and "only plain http" in bad.output


def _cli(data: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    full = {**os.environ, "PYTHONPATH": str(REPO), "NEWSQA_DATA_DIR": str(data), **env}
    return subprocess.run(
        [sys.executable, "-m", "qa.cli", *args], env=full, capture_output=True, text=True, timeout=300
    )


def test_server_down_gives_a_clear_error_and_recovers(
    server: ChromaServer, embedder: Embedder, tmp_path: Path
) -> None:
    settings = on_server(server, tmp_path / "data", "outage")
    ingestor = Ingestor(settings, embedder)
    assert len(ingestor.ingest([SAMPLE], progress=False).added) == 2
    retriever = retriever_for(settings, embedder, ingestor.store)
    baseline = [p.chunk_id for p in retriever.retrieve(QUESTIONS[0], 4)]
    extra = tmp_path / "extra.txt"
    extra.write_text(NEW_ARTICLE)
    where = f"127.0.0.1:{server.port}"

    server.stop()
    try:
        begin = time.perf_counter()
        with pytest.raises(StoreUnavailable, match=f"Chroma server at {where} is unavailable"):
            retriever.retrieve(QUESTIONS[0], 4)
        error_seconds = time.perf_counter() - begin
        with pytest.raises(StoreUnavailable, match=where):
            ingestor.ingest([extra], progress=False)
        with pytest.raises(StoreUnavailable, match="ConnectError"):
            ChunkStore(settings).count()  # a new process: first use, no server

        env = server_env(server, "outage")
        for args in (["ingest", "--quiet", str(extra)], ["ask", QUESTIONS[0]]):
            result = _cli(settings.data_dir, env, *args)
            assert result.returncode == 1, result.stdout + result.stderr
            assert f"Error: the Chroma server at {where} is unavailable" in result.stderr
            assert "Traceback" not in result.stderr
    finally:
        restart_seconds = server.start()
    begin = time.perf_counter()
    recovered = [p.chunk_id for p in retriever.retrieve(QUESTIONS[0], 4)]  # the same objects work again
    first_query_seconds = time.perf_counter() - begin
    assert recovered == baseline

    report = ingestor.ingest([extra], progress=False)
    assert report.ok and len(report.added) == 1 and report.recovered == 1  # the failed write is redone
    catalog = ingestor.catalog
    assert catalog.pending() == []
    assert ingestor.store.count() == sum(r.n_chunks for r in catalog.rows())
    print(
        f"\nChroma server outage: error after {error_seconds * 1000:.0f} ms; restart to heartbeat "
        f"{restart_seconds:.1f} s; first retrieval after restart {first_query_seconds * 1000:.0f} ms"
    )


@pytest.mark.slow
def test_kill_9_mid_ingest_into_the_server_converges(
    server: ChromaServer, crash_corpus: tuple[Path, tuple], tmp_path: Path
) -> None:
    """Killed twice mid-ingest into the server, then finished: the index equals a clean ingest's (the
    clean reference is an embedded-store ingest of the same corpus: same articles, same chunk ids)."""
    corpus, clean = crash_corpus
    killed = tmp_path / "killed"

    def command() -> tuple[list[str], dict[str, str]]:
        cmd, env = ingest_cmd(killed, corpus)
        return cmd, {**env, **server_env(server, "killed")}

    kill_mid_ingest(killed, command)
    cmd, env = command()
    finish = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert finish.returncode == 0, finish.stdout + finish.stderr
    assert index_state(on_server(server, killed, "killed")) == clean
    assert not (killed / "chroma").exists()


def test_token_and_tls_through_a_checking_proxy(
    server: ChromaServer, embedder: Embedder, tmp_path: Path
) -> None:
    """A server that requires a token, over https: the right token ingests and retrieves, a wrong or
    missing one gets a one-line error from the CLI (no traceback), and the token is never shown."""
    from token_proxy import TokenProxy, self_signed

    cert = self_signed(tmp_path)
    with TokenProxy(server.port, "s3cret-token", cert=cert) as proxy:
        settings = Settings(
            data_dir=tmp_path / "data", chroma_host="127.0.0.1", chroma_port=proxy.port, chroma_collection="tls",
            chroma_ssl=True, chroma_ca_file=cert[0], chroma_token="s3cret-token",
        )  # fmt: skip
        ingestor = Ingestor(settings, embedder)
        assert len(ingestor.ingest([SAMPLE], progress=False).added) == 2
        found = Retriever(embedder, ingestor.store, ingestor.corpus.lexical).retrieve(QUESTIONS[1], 3)
        assert found and "Geneva" in " ".join(p.text for p in found)
        assert raw_collection(server, "tls").count() == ingestor.store.count()  # really on the server
        assert "s3cret-token" not in repr(settings)

        env = {"NEWSQA_CHROMA_HOST": "127.0.0.1", "NEWSQA_CHROMA_PORT": str(proxy.port),
               "NEWSQA_CHROMA_COLLECTION": "tls", "NEWSQA_CHROMA_SSL": "true",
               "NEWSQA_CHROMA_CA_FILE": str(cert[0])}  # fmt: skip
        for token in ("wrong-token", None):
            run_env = {**env, "NEWSQA_CHROMA_TOKEN": token} if token else env
            result = CliRunner().invoke(cli, ["--data-dir", str(tmp_path / "data"), "stats"], env=run_env)
            assert result.exit_code == 1, result.output
            assert f"the Chroma server at 127.0.0.1:{proxy.port} refused access" in result.output
            assert "NEWSQA_CHROMA_TOKEN" in result.output and "Traceback" not in result.output
        assert proxy.refused >= 2

        plain = CliRunner().invoke(  # https expected, the proxy speaks TLS: a plain client is turned away
            cli, ["--data-dir", str(tmp_path / "data"), "stats"],
            env={**env, "NEWSQA_CHROMA_SSL": "false", "NEWSQA_CHROMA_TOKEN": "s3cret-token"},
        )  # fmt: skip
        assert plain.exit_code == 1 and "Traceback" not in plain.output, plain.output
