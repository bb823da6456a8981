"""Parse cache: one JSON file per (adapter version, path, content hash); safe to delete any time."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from r2e.analysis.records import FileIndex
from r2e.fsio import atomic_write_text

SCHEMA = 1


class ParseCache:
    def __init__(self, root: Path | None):
        self.root = Path(root) / f"v{SCHEMA}" if root else None
        self.hits = self.misses = 0

    def key(self, adapter_key: str, path: str, data: bytes, repo_key: str = "") -> str:
        """`repo_key`: what else in the repository the parse depends on (C: its decoration macros)."""
        h = hashlib.sha256(data)
        h.update(b"\0" + path.encode("utf-8", "surrogateescape"))
        if repo_key:  # only hashed when present, so keys of languages without one stay as they were
            h.update(b"\0" + repo_key.encode())
        return f"{adapter_key}/{h.hexdigest()[:2]}/{h.hexdigest()}"

    def get(self, key: str) -> FileIndex | None:
        if self.root is None:
            return None
        f = self.root / f"{key}.json"
        try:
            index = FileIndex.from_dict(json.loads(f.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError):
            self.misses += 1
            return None
        self.hits += 1
        return index

    def put(self, key: str, index: FileIndex) -> None:
        if self.root is not None:
            # compact and without fsync: a torn entry fails to load and is simply re-parsed
            atomic_write_text(self.root / f"{key}.json", json.dumps(index.to_dict(), separators=(",", ":")),
                              durable=False)
