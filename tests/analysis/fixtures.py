"""Small fixture repositories for the analysis tests (written to temp folders by the tests)."""

from __future__ import annotations

import ast
from pathlib import Path

GOLDEN = {
    "pkg/__init__.py": "",
    "pkg/consts.py": "SCALE = 3\nUNUSED = 4\n",
    "pkg/util.py": (
        "from pkg.consts import SCALE\n\n\n"
        "def helper(x):\n    \"\"\"Scale x.\"\"\"\n    return x * SCALE\n\n\n"
        "def unrelated(z):\n    \"\"\"Not used by anyone.\"\"\"\n    return z - 1\n"
    ),
    "pkg/core.py": (
        "import os\nfrom .util import helper\n\n"
        "a, b = 1, 2\nLIMIT: int = 10\n\n\n"
        "def fut(y):\n    \"\"\"Future value of y.\"\"\"\n    return helper(y) + b\n"
    ),
}

# One module per resolution case; every function is documented, has parameters and returns a value.
RESOLUTION = {
    "src/lib/__init__.py": "from .util import helper\n__all__ = ['helper']\n__all__ += ['Parser']\n",
    "src/lib/util.py": (
        "import re as regex\n\nPATTERN = regex.compile('x')\n\n\n"
        "def helper(x):\n    \"\"\"Help.\"\"\"\n    return PATTERN.sub('', x)\n\n\n"
        "class Parser:\n    \"\"\"Parse.\"\"\"\n    flags = 0\n\n"
        "    def __init__(self, text):\n        self.text = text\n\n"
        "    def parse(self, extra):\n        \"\"\"Parse text.\"\"\"\n        return helper(self.text) + extra\n"
    ),
    "src/lib/sub/__init__.py": "def tool(v):\n    \"\"\"The package-level tool (must not be picked).\"\"\"\n    return v\n",
    "src/lib/sub/tool.py": "def run(v):\n    \"\"\"Run.\"\"\"\n    return v + 1\n",
    "src/lib/shapes.py": (
        "from lib.util import Parser as P\n\n\n"
        "class Base(P):\n    \"\"\"Base.\"\"\"\n    UNIT = 2\n\n"
        "    def area(self, k):\n        \"\"\"Area.\"\"\"\n        return self.UNIT * k\n\n\n"
        "class Square(Base):\n    \"\"\"Square.\"\"\"\n\n"
        "    def double(self, k):\n        \"\"\"Twice the area.\"\"\"\n        return self.area(k) * 2\n\n"
        "    @classmethod\n    def make(cls, k):\n        \"\"\"Build one.\"\"\"\n        return cls.area(k)\n"
    ),
    "src/lib/uses.py": (
        "import lib.util\nimport lib.util as lu\nfrom lib import helper as reexported\n"
        "from lib.util import helper as h\nfrom lib.util import *\nfrom . import sub\nfrom .sub import tool\n\n\n"
        "def by_module(x):\n    \"\"\"module.f()\"\"\"\n    return lib.util.helper(x)\n\n\n"
        "def by_alias(x):\n    \"\"\"import a.b as m\"\"\"\n    return lu.helper(x)\n\n\n"
        "def by_from_alias(x):\n    \"\"\"from m import y as z\"\"\"\n    return h(x)\n\n\n"
        "def by_reexport(x):\n    \"\"\"re-export through __init__\"\"\"\n    return reexported(x)\n\n\n"
        "def by_star(x):\n    \"\"\"star import\"\"\"\n    return PATTERN.sub(x, x)\n\n\n"
        "def by_submodule(x):\n    \"\"\"from . import sub; sub.tool.run()\"\"\"\n    return tool.run(x)\n\n\n"
        "def by_package_attr(x):\n    \"\"\"sub.tool.run() through the package\"\"\"\n    return sub.tool.run(x)\n\n\n"
        "def by_class(x):\n    \"\"\"Class() -> __init__\"\"\"\n    return Parser(x)\n"
    ),
}

STRUCTURED = {
    "mod.py": (
        "import sys\n\n"
        "try:\n    import json\nexcept ImportError:\n    json = None\n\n"
        "if sys.version_info >= (3, 8):\n    def encode(v):\n        return str(v)\n"
        "else:\n    def encode(v):\n        return repr(v)\n\n"
        "__all__ = ['dump']\n__all__ += ['load']\nCOUNT: int = 0\n\n\n"
        "def dump(obj):\n    \"\"\"Dump.\"\"\"\n    return json.dumps(obj) + encode(obj) + str(__all__)\n"
    ),
}


def write_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)
    return root


def undefined_names(text: str) -> list[str]:
    """pyflakes' undefined names in `text` (raises SyntaxError when it does not parse)."""
    from pyflakes import checker, messages

    tree = ast.parse(text)
    return [m.message_args[0] for m in checker.Checker(tree).messages if isinstance(m, messages.UndefinedName)]
