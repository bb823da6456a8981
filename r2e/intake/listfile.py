"""Read lists of repositories: JSON lists, one entry per line, or SEART-style CSV exports."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from r2e.errors import R2EUsageError

GITHUB = "https://github.com"


def _read_text(path: Path) -> str:
    if not path.exists():
        raise R2EUsageError(f"list file '{path}' does not exist")
    if not path.is_file():
        raise R2EUsageError(f"list file '{path}' is not a file")
    data = path.read_bytes()
    if b"\x00" in data:
        raise R2EUsageError(f"list file '{path}' is binary, expected JSON, CSV or one entry per line")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise R2EUsageError(f"list file '{path}' is not UTF-8 text") from None
    if not text.strip():
        raise R2EUsageError(f"list file '{path}' is empty")
    return text


def _from_json(path: Path, text: str, keys: tuple[str, ...]) -> list[str]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise R2EUsageError(f"list file '{path}' is malformed JSON: {exc.msg} at line {exc.lineno}") from None
    if not isinstance(data, list):
        raise R2EUsageError(f"list file '{path}' must hold a JSON list")
    entries = []
    for item in data:
        if isinstance(item, str):
            entries.append(item)
        elif isinstance(item, dict) and any(isinstance(item.get(k), str) for k in keys):
            entries.append(next(item[k] for k in keys if isinstance(item.get(k), str)))
        else:
            raise R2EUsageError(f"list file '{path}' has an entry that is not a string: {json.dumps(item)[:80]}")
    return entries


def _from_csv(path: Path, text: str) -> list[str]:
    rows = list(csv.DictReader(io.StringIO(text)))
    header = {h.strip().lower(): h for h in (csv.DictReader(io.StringIO(text)).fieldnames or [])}
    if "url" in header:
        return [r[header["url"]].strip() for r in rows if (r.get(header["url"]) or "").strip()]
    if "name" in header:
        names = [r[header["name"]].strip() for r in rows if (r.get(header["name"]) or "").strip()]
        return [n if "://" in n or n.startswith("git@") else f"{GITHUB}/{n}" for n in names]
    raise R2EUsageError(f"list file '{path}' is CSV without a 'name' or 'url' column")


def _looks_like_csv(text: str) -> bool:
    first = text.lstrip().splitlines()[0].lower()
    cols = [c.strip().strip('"') for c in first.split(",")]
    return "," in first and ("name" in cols or "url" in cols)


def read_list_file(path: Path | str, *, urls: bool = True) -> list[str]:
    """Entries of a list file. Blank lines and '#' comments are ignored in line lists."""
    path = Path(path)
    text = _read_text(path)
    stripped = text.lstrip()
    if stripped.startswith(("[", "{")):
        entries = _from_json(path, text, ("url", "name", "path") if urls else ("path",))
    elif urls and _looks_like_csv(text):
        entries = _from_csv(path, text)
    else:
        entries = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not entries:
        raise R2EUsageError(f"list file '{path}' has no entries")
    return entries
