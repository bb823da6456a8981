"""Broken, odd and hostile files never crash an extraction; each is counted in the summary."""

from __future__ import annotations

import os

from r2e.analysis.driver import ExtractOptions, extract_repo
from r2e.analysis.filters import FILTERS, FilterOptions

from .fixtures import undefined_names, write_tree

OFF = ExtractOptions(filters=FilterOptions(disabled=frozenset(FILTERS)))
GOOD = 'def good(x):\n    """Good."""\n    return x + 1\n'


def test_hostile_tree(tmp_path):
    root = write_tree(tmp_path / "r", {
        "ok.py": GOOD,
        "broken.py": GOOD.replace("good", "first") + "\ndef broken(:\n    pass\n\n" + GOOD.replace("good", "last"),
        "py2.py": 'print "hello"\n\ndef old(x):\n    """Old."""\n    exec "x = 1"\n    return x\n\n'
                  + GOOD.replace("good", "modern"),
        "latin.py": b"# -*- coding: latin-1 -*-\nNAME = '\xe9t\xe9'\n\n\ndef latin(x):\n    \"\"\"Caf\xe9.\"\"\"\n    return NAME + x\n",
        "blob.py": b"\x00\x01\x02binary\x00",
        "huge.py": "X = 1\n" * 200_000,
        ".venv/lib/dep.py": GOOD, "venv/x.py": GOOD, "node_modules/y.py": GOOD, "build/z.py": GOOD,
        "lib/site-packages/w.py": GOOD, ".git/hooks/h.py": GOOD,
    })
    os.symlink(root, root / "loop")  # a symlink loop
    os.symlink(root / "ok.py", root / "alias.py")
    os.mkfifo(root / "pipe.py")  # would block a naive reader forever
    (root / "folder.py").mkdir()
    res = extract_repo("acme__r", root, OFF)
    names = {r.name for r in res.records}
    assert {"good", "first", "last", "modern", "latin", "old"} <= names  # tree-sitter reads Python 2 too
    assert "broken" not in names
    s = res.summary["skipped"]
    assert s["binary"] == 1 and s["too_large"] == 1 and s["symlink"] == 2
    assert s["vendored_dir"] == 6
    assert s["syntax_error_files"] == 1 and s["unparsed_statements"] >= 1
    assert s["non_utf8_decoded"] == 1 and s["not_a_file"] == 1
    latin = next(r for r in res.records if r.name == "latin")
    assert latin.docstring == "Café." and "NAME = 'été'" in latin.context
    assert res.summary["files"] == {"python": 4}
    for r in res.records:
        if r.path != "py2.py":
            assert undefined_names(r.context) == [], r.id


def test_empty_and_unusual_repositories(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert extract_repo("acme__e", empty, OFF).records == []
    root = write_tree(tmp_path / "odd", {
        "__init__.py": "",
        "only_comments.py": "# nothing\n",
        "cycle_a.py": "from cycle_b import *\n",
        "cycle_b.py": "from cycle_a import *\n\n\ndef f(x):\n    \"\"\"F.\"\"\"\n    return g(x)\n",
        "selfref.py": "from selfref import *\nX = X\n\n\ndef h(x):\n    \"\"\"H.\"\"\"\n    return Y + x\n",
    })
    res = extract_repo("acme__o", root, OFF)
    assert {r.name for r in res.records} == {"f", "h"}
