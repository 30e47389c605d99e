"""llama.cpp reader settings on this CPU: prompt reading and writing speed of the packaged 1.5B model.

Run alone (two cores are easily disturbed) from the repository root:

    PYTHONPATH=. .venv/bin/python benchmarks/reader_settings.py [--repeats 2] [--model PATH]

Each setting runs in its own process (``GGML_CPU_TILED_MM`` is read when llama.cpp starts): weight
repacking on and off (``CommonParams.no_extra_bufts``), the tiled k-quant matmul kernel forced on / off
(``GGML_CPU_TILED_MM``), ``n_ubatch``, flash attention, and one thread for writing. Each reads the same
~700-token cited prompt (cache off) and writes 32 tokens at temperature 0; llama.cpp's own ``timings`` give
tokens per second. The written text is compared with the default's (a setting that changes the answer is
reported as such).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

SETTINGS: dict[str, dict] = {
    "default": {},
    "repack off (no_extra_bufts)": {"no_extra_bufts": True},
    "GGML_CPU_TILED_MM=0": {"env": {"GGML_CPU_TILED_MM": "0"}},
    "GGML_CPU_TILED_MM=1": {"env": {"GGML_CPU_TILED_MM": "1"}},
    "n_ubatch 128": {"n_ubatch": 128},
    "n_ubatch 256": {"n_ubatch": 256},
    "flash attention on": {"flash": 1},
    "flash attention off": {"flash": 0},
    "1 thread writing": {"threads": 1},
    "repack off + flash attention on": {"no_extra_bufts": True, "flash": 1},
    "default (again)": {},
}

PROMPT_WORDS = (
    "The talks between the United States and Russia will be held in Geneva on January 10, officials said, "
    "followed by a NATO-Russia council meeting in Brussels on January 12 and a wider meeting in Vienna. "
)


def _child(config: dict, model: str, repeats: int) -> None:
    """In the child process: load the model with ``config`` and print one JSON line of figures."""
    import httpx
    import xllamacpp

    from qa.models import Passage
    from qa.prompt import build_messages

    params = xllamacpp.CommonParams()
    params.model.path = model
    params.n_ctx = 4096
    params.n_parallel = 1
    params.cpuparams.n_threads = config.get("threads", 2)
    params.cpuparams_batch.n_threads = 2
    params.sampling.temp = 0
    params.hostnames = ["127.0.0.1"]
    params.port = 0
    params.verbosity = 0
    if "no_extra_bufts" in config:
        params.no_extra_bufts = config["no_extra_bufts"]
    if "n_ubatch" in config:
        params.n_ubatch = config["n_ubatch"]
    if "flash" in config:
        params.flash_attn_type = xllamacpp.llama_flash_attn_type(config["flash"])
    server = xllamacpp.Server(params)
    root = server.listening_address
    passages = [
        Passage(i, f"c{i}", f"a{i}", f"Talks set {i}", "Wire", "2022-01-05", "", PROMPT_WORDS * 3, 0.5)
        for i in range(1, 5)
    ]
    messages = build_messages("Where will the talks be held?", passages, as_of="2022-01-05")
    prompt = httpx.post(f"{root}/apply-template", json={"messages": messages}, timeout=60).json()["prompt"]
    rows = []
    for _ in range(repeats):
        body = {"prompt": prompt, "n_predict": 32, "cache_prompt": False, "temperature": 0}
        reply = httpx.post(f"{root}/completion", json=body, timeout=600).json()
        t = reply["timings"]
        rows.append((t["prompt_n"], t["prompt_per_second"], t["predicted_per_second"], reply["content"]))
    print(json.dumps({
        "prompt_tokens": rows[0][0],
        "read_tps": statistics.median(r[1] for r in rows),
        "write_tps": statistics.median(r[2] for r in rows),
        "text": rows[0][3],
    }))  # fmt: skip
    sys.stdout.flush()
    os._exit(0)  # the server's threads would otherwise hold the process


def _run_child(name: str, config: dict, args: argparse.Namespace) -> dict | None:
    """One setting in its own process; its figures, or None (said) when it failed."""
    env = {**os.environ, **config.get("env", {}), "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    child = [sys.executable, __file__, "--model", args.model, "--repeats", str(args.repeats),
             "--child", json.dumps({k: v for k, v in config.items() if k != "env"})]  # fmt: skip
    out = subprocess.run(child, env=env, capture_output=True, text=True, timeout=1800)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if not lines:
        print(f"{name:>32}: failed: {out.stderr.strip().splitlines()[-1:] or out.returncode}")
        return None
    return json.loads(lines[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--model", default=None, help="GGUF file (default: the packaged 1.5B model)")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.model is None:
        from index.settings import Settings
        from qa.model_files import ensure_model

        args.model = str(ensure_model(Settings().model_dir))
    if args.child:
        _child(json.loads(args.child), args.model, args.repeats)
        return
    from benchmarks.typeahead import cpu_name

    print(f"CPU: {cpu_name()}; model {Path(args.model).name}")
    base_text = None
    base_read = None
    _run_child("warm-up (page cache)", {}, args)  # the first load reads the model file from disk
    for name, config in SETTINGS.items():
        env = {
            **os.environ,
            **config.get("env", {}),
            "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
        }
        child = [sys.executable, __file__, "--model", args.model, "--repeats", str(args.repeats),
                 "--child", json.dumps({k: v for k, v in config.items() if k != "env"})]  # fmt: skip
        out = subprocess.run(child, env=env, capture_output=True, text=True, timeout=1800)
        lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
        if not lines:
            print(f"{name:>28}: failed: {out.stderr.strip().splitlines()[-1:] or out.returncode}")
            continue
        row = json.loads(lines[-1])
        base_text = base_text if base_text is not None else row["text"]
        base_read = base_read or row["read_tps"]
        same = "same text" if row["text"] == base_text else "TEXT DIFFERS"
        print(
            f"{name:>32}: read {row['read_tps']:6.1f} tok/s ({row['read_tps'] / base_read:.2f}x), "
            f"write {row['write_tps']:5.1f} tok/s, {row['prompt_tokens']} prompt tokens, {same}"
        )


if __name__ == "__main__":
    main()
