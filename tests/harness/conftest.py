from __future__ import annotations

import json

import pytest

from tests.harness.extracted import write_extracted
from tests.harness.fixtures import make_fixture_repo


@pytest.fixture
def fixture_exp(tmp_path, r2e_home, cli):
    """An experiment 'x' with the fixture package set up (local copy) and its functions extracted."""

    def make(keep=lambda r: True, exp: str = "x", extra: dict | None = None):
        src = make_fixture_repo(tmp_path / "src" / "fixturepkg")
        for rel, text in (extra or {}).items():
            (src / rel).write_text(text)
        result = cli("setup", "-e", exp, "-l", str(src))
        assert result.exit_code == 0, result.output
        manifest = json.loads((r2e_home / "experiments" / exp / "manifest.json").read_text())
        repo = manifest["repos"][0]
        from pathlib import Path

        records = write_extracted(r2e_home, exp, repo["id"], Path(repo["path"]), ["pkg/mod.py", *(extra or {})], keep)
        return repo["id"], {r["name"] if not r["class_name"] else f"{r['class_name']}.{r['name']}": r for r in records}

    return make
