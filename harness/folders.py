"""Where each function's harness work lives: experiments/EXP/tests/<function-folder>/."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from r2e.workspace import Workspace

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def function_folder(function_id: str) -> str:
    """A readable, filesystem-safe folder name, unique per id (a short hash of the id is appended)."""
    readable = _UNSAFE.sub("_", function_id.replace("::", "--").replace("/", "__")).strip("._-")[:120]
    digest = hashlib.sha1(function_id.encode("utf-8")).hexdigest()[:8]
    return f"{readable}-{digest}"


def tests_dir(ws: Workspace, exp: str) -> Path:
    return ws.experiment_dir(exp) / "tests"


def function_dir(ws: Workspace, exp: str, function_id: str) -> Path:
    return tests_dir(ws, exp) / function_folder(function_id)
