"""The parse cache: keyed by content, reused on re-runs, ignored when corrupt or switched off."""

from __future__ import annotations

from r2e.analysis.driver import ExtractOptions, extract_repo, index_repo

from .fixtures import GOLDEN, write_tree


def test_rerun_hits_cache_and_edits_are_reparsed(tmp_path):
    root = write_tree(tmp_path / "g", GOLDEN)
    cache = str(tmp_path / "cache")
    first = extract_repo("acme__g", root, ExtractOptions(cache_dir=cache))
    assert first.summary["cache_hits"] == 0
    second = extract_repo("acme__g", root, ExtractOptions(cache_dir=cache))
    assert second.summary["cache_hits"] == len(GOLDEN)
    assert [r.to_dict() for r in second.records] == [r.to_dict() for r in first.records]
    (root / "pkg" / "consts.py").write_text("SCALE = 5\nUNUSED = 4\n")
    third = extract_repo("acme__g", root, ExtractOptions(cache_dir=cache))
    assert third.summary["cache_hits"] == len(GOLDEN) - 1
    fut = next(r for r in third.records if r.name == "fut")
    assert "SCALE = 5" in fut.context


def test_corrupt_entries_are_reparsed(tmp_path):
    root = write_tree(tmp_path / "g", GOLDEN)
    cache = tmp_path / "cache"
    index_repo(root, str(cache))
    entries = list(cache.rglob("*.json"))
    assert len(entries) == len(GOLDEN)
    for e in entries:
        e.write_text("{not json")
    again = index_repo(root, str(cache))
    assert again.cache_hits == 0
    assert set(again.files["python"]) == set(GOLDEN)


def test_no_cache_dir_writes_nothing(tmp_path):
    root = write_tree(tmp_path / "g", GOLDEN)
    extract_repo("acme__g", root, ExtractOptions(cache_dir=None))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g"]
