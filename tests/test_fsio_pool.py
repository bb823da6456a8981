import json
import os
import threading

import pytest

from r2e.fsio import atomic_write_json, atomic_write_text, read_json
from r2e.pool import run_pool


def test_atomic_write_replaces_whole_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "sub" / "result.json"
    atomic_write_json(target, {"a": 1})
    atomic_write_json(target, {"b": 2})
    assert read_json(target) == {"b": 2}
    assert os.listdir(target.parent) == ["result.json"]


def test_failed_write_keeps_previous_content(tmp_path, monkeypatch):
    target = tmp_path / "manifest.json"
    atomic_write_text(target, '{"ok": true}')

    def crash(_fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", crash)  # the write dies after data went to the temp file
    with pytest.raises(OSError, match="disk full"):
        atomic_write_text(target, '{"half": ')
    assert json.loads(target.read_text()) == {"ok": True}
    assert os.listdir(tmp_path) == ["manifest.json"]


@pytest.mark.parametrize("workers", [1, 4])
def test_run_pool_returns_failures_as_data(workers):
    def fn(x):
        if x % 3 == 0:
            raise ValueError(f"bad {x}")
        return x * 10

    seen = []
    ok, failed = run_pool(fn, range(1, 10), workers, on_done=lambda i, r, e: seen.append(i))
    assert sorted(r for _, r in ok) == [10, 20, 40, 50, 70, 80]
    assert sorted(f.item for f in failed) == [3, 6, 9]
    assert failed[0].message.startswith("ValueError: bad")
    assert sorted(seen) == list(range(1, 10))


def test_run_pool_runs_in_parallel():
    barrier = threading.Barrier(3, timeout=5)
    ok, failed = run_pool(lambda x: barrier.wait(), range(3), 3)
    assert len(ok) == 3 and not failed  # would time out (BrokenBarrierError) if sequential
