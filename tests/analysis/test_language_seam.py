"""A new language needs only an adapter and one registry line: extraction, filters, graph and
slicing run unchanged (here on a toy language next to Python in one repository)."""

from __future__ import annotations

from r2e.analysis import languages
from r2e.analysis.driver import ExtractOptions, extract_repo
from r2e.analysis.graph import build_graph

from .fixtures import GOLDEN, write_tree


def test_a_registered_adapter_plugs_in(tmp_path, monkeypatch):
    monkeypatch.setitem(languages.ADAPTERS, "toy", "tests.analysis.toy_lang:ToyAdapter")
    languages.get_adapter.cache_clear()
    root = write_tree(tmp_path / "mixed", {
        **GOLDEN,
        "a.toy": "val RATE\nfn total(x) -> part RATE  # Total.\nfn nodoc(x) -> part\n",
        "b.toy": "fn part(y)  # Part.\nfn lonely(z)  # Alone.\n",
    })
    res = extract_repo("acme__mixed", root, ExtractOptions())
    languages.get_adapter.cache_clear()
    toy = {r.name: r for r in res.records if r.lang == "toy"}
    assert set(toy) == {"total", "part", "lonely"}  # `nodoc` dropped by the docstring filter
    assert res.summary["dropped"]["docstring"] == 1 and res.summary["files"]["toy"] == 2
    t = toy["total"]
    assert t.id == "acme__mixed/a.toy::total" and t.callees == ("acme__mixed/b.toy::part",)
    assert t.context == "// b.toy\nfn part(y)  # Part.\n\n// a.toy\nval RATE\nfn total(x) -> part RATE  # Total.\n"
    assert any(r.id == "acme__mixed/pkg/core.py::fut" for r in res.records)  # Python unaffected
    g = build_graph("acme__mixed", res.index)
    assert g.edges["acme__mixed/a.toy::total", "acme__mixed/b.toy::part"]["kind"] == "calls"
