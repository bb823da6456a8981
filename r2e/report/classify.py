"""Naming a failure: its exception class and missing module, from the result or the log's last traceback."""

from __future__ import annotations

import re
from functools import lru_cache

_EXCEPTION = re.compile(r"^(?:E\s+)?([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|NotFound|Failure))\b:?",
                        re.MULTILINE)
_MISSING = re.compile(r"No module named '([\w.]+)'")
_CANNOT_IMPORT = re.compile(r"cannot import name '(\w+)' from '([\w.]+)'")


def exception_class(message: str, log_tail: str, recorded: str | None) -> str | None:
    """The recorded class, else the last exception class named in the message or log."""
    if recorded:
        return recorded.rsplit(".", 1)[-1]
    for text in (message, log_tail):
        found = _EXCEPTION.findall(text or "")
        if found:
            return found[-1].rsplit(".", 1)[-1]
    return None


def missing_module(message: str, log_tail: str, recorded: str | None, failure_class: str | None) -> str | None:
    """The top-level module a ModuleNotFoundError/ImportError was about, if any."""
    if recorded and failure_class in (None, "ModuleNotFoundError", "ImportError"):
        return recorded.split(".")[0]
    for text in (message, log_tail):
        found = _MISSING.findall(text or "") or [m[1] for m in _CANNOT_IMPORT.findall(text or "")]
        if found:
            return found[-1].split(".")[0]
    return None


@lru_cache(maxsize=1)
def import_to_distribution() -> dict[str, str]:
    """pipreqs' import-name -> distribution table (shipped in the pipreqs package)."""
    from importlib import resources

    try:
        text = (resources.files("pipreqs") / "mapping").read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        return {}
    table = {}
    for line in text.splitlines():
        if ":" in line:
            name, dist = line.strip().split(":", 1)
            table[name] = dist
    return table


def distribution_for(module: str) -> tuple[str, bool]:
    """(distribution name, whether it differs from the import name) — the pipreqs failure mode."""
    dist = import_to_distribution().get(module)
    if dist is None:
        return module, False
    return dist, dist.lower().replace("_", "-") != module.lower().replace("_", "-")
