"""Task functions the Ray tests ship to nodes (importable by the workers, as r2e's own are)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from r2e.executor import placement


def noop(x):
    return x


def where(x):
    p = placement()
    return {"x": x, "node_id": p.node_id, "attempt": p.attempt}


def slow_first_attempt(marker: str) -> dict:
    """Announce itself in `marker` (with its node), then hang on the first attempt only."""
    p = placement()
    path = Path(marker)
    path.write_text(json.dumps({"node_id": p.node_id, "attempt": p.attempt}))
    if p.attempt == 1:
        time.sleep(120)
    return {"attempt": p.attempt, "nodes_tried": list(p.nodes_tried), "node_id": p.node_id}


def boom(x):
    raise ValueError(f"bad item {x}")
