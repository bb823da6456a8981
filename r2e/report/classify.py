"""Naming a failure: its exception class and missing module, from the result or the log's last traceback."""

from __future__ import annotations

import re

from r2e.import_names import import_table  # the installer's own table: the report says what it did

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


def distribution_for(module: str) -> tuple[str, bool]:
    """(distribution name, whether it differs from the import name) — the pipreqs failure mode."""
    dist = import_table().get(module)
    if dist is None:
        return module, False
    return dist, dist.lower().replace("_", "-") != module.lower().replace("_", "-")
