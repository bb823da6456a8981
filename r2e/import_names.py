"""Import name -> PyPI distribution (`yaml` -> `PyYAML`): pipreqs' table, then our own overrides.

Shared by the installer, which installs what a repo imports, and the report, which says when a
missing module's distribution has another name. Standard library only, so either may import it.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=1)
def import_table() -> dict[str, str]:
    """import name -> distribution: pipreqs 0.4.13's `mapping` file, then r2e/data/import_names.json."""
    table: dict[str, str] = {}
    try:
        text = (resources.files("pipreqs") / "mapping").read_text(encoding="utf-8")
        for line in text.splitlines():
            if ":" in line:
                imp, dist = line.strip().split(":", 1)
                table[imp] = dist
    except Exception:  # pipreqs absent or its file moved: our overrides still apply
        pass
    ours = json.loads((resources.files("r2e") / "data" / "import_names.json").read_text(encoding="utf-8"))
    table.update({k: v for k, v in ours.items() if not k.startswith("_")})
    return table
