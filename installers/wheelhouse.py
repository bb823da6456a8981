"""Wheels resolved and downloaded on the host, for containers that cannot reach the package index.

`pip download` for the container's Python and platform (binary wheels, dependencies included);
a requirement with no wheel falls back to its sdist (built in the container, offline, with the
build backends also put in the wheelhouse). The container installs with
`uv pip install --no-index --find-links /wheelhouse`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CONTAINER_PATH = "/wheelhouse"
PLATFORMS = ["manylinux_2_36_x86_64", "manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
             "manylinux2010_x86_64", "manylinux1_x86_64", "linux_x86_64"]
BUILD_BACKENDS = ["setuptools", "wheel", "pytest", "hatchling", "flit_core", "poetry-core", "setuptools_scm"]


def _download(args: list[str], timeout: float) -> tuple[bool, str]:
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", *args]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, "pip download timed out"
    return p.returncode == 0, (p.stdout + p.stderr)[-3000:]


def binary_args(python: str, dest: Path) -> list[str]:
    nodot = python.replace(".", "")
    args = ["--dest", str(dest), "--only-binary=:all:", "--python-version", python, "--implementation", "cp",
            "--abi", f"cp{nodot}", "--abi", "abi3", "--abi", "none"]
    for plat in PLATFORMS:
        args += ["--platform", plat]
    return args


def fill(requirements: list[str], python: str, dest: Path, timeout: float = 600) -> tuple[list[str], str]:
    """Download wheels for `requirements` (+ build backends) into `dest`; return (failed, log)."""
    dest.mkdir(parents=True, exist_ok=True)
    log = []
    ok, out = _download(binary_args(python, dest) + list(BUILD_BACKENDS), timeout)
    log.append(out)
    if not requirements:
        return [], "\n".join(log)
    ok, out = _download(binary_args(python, dest) + requirements, timeout)
    log.append(out)
    if ok:
        return [], "\n".join(log)
    failed = []
    for req in requirements:  # one by one: wheels with deps, else the sdist alone
        ok, out = _download(binary_args(python, dest) + [req], timeout)
        if not ok:
            ok, out = _download(["--dest", str(dest), "--no-deps", "--no-binary", ":all:", req], timeout)
        if not ok:
            failed.append(req)
            log.append(out)
    return failed, "\n".join(log)
