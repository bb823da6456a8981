"""Small fixture repositories for build tests (written into temp folders by the tests)."""

PASSING_TESTS = "from {pkg} import add\n\ndef test_add():\n    assert add(1, 2) == 3\n\ndef test_add2():\n    assert add(2, 2) == 4\n"

REPOS = {
    # declared deps (requirements.txt) and an import name that differs from its distribution (yaml -> PyYAML)
    "declared": {
        "requirements.txt": "six>=1.10\n",
        "calc/__init__.py": "import six\nimport yaml\n\ndef add(a, b):\n    return a + b\n",
        "tests/test_calc.py": PASSING_TESTS.format(pkg="calc"),
    },
    # imports only, with a file that does not parse
    "broken_file": {
        "tool/__init__.py": "def add(a, b):\n    return a + b\n",
        "tool/legacy.py": "def f(:\n    pass\n",
        "tests/test_tool.py": PASSING_TESTS.format(pkg="tool"),
    },
    # one of three tests fails
    "failing": {
        "fl/__init__.py": "def add(a, b):\n    return a + b\n",
        "tests/test_fl.py": PASSING_TESTS.format(pkg="fl") + "\ndef test_wrong():\n    assert add(1, 1) == 3\n",
    },
    "no_tests": {"nt/__init__.py": "X = 1\n"},
    "python2": {"old/__init__.py": "print 'hello'\n", "old/util.py": "try:\n    pass\nexcept ValueError, e:\n    pass\n"},
    # a dependency the import scan cannot see (imported by name at run time): the missing-module rule repairs it
    "hidden_dep": {
        "hd/__init__.py": "import importlib\nsix = importlib.import_module('six')\n\ndef add(a, b):\n    return a + b\n",
        "tests/test_hd.py": PASSING_TESTS.format(pkg="hd"),
    },
    "slow": {
        "sl/__init__.py": "def add(a, b):\n    return a + b\n",
        "tests/test_sl.py": "import time\n\ndef test_slow():\n    time.sleep(60)\n",
    },
}


def experiment(root, name: str = "builds"):
    """An experiment in a fresh workspace under `root`: where build_repo saves its files."""
    from r2e.experiment import Experiment
    from r2e.workspace import Workspace

    return Experiment(Workspace(root / "home"), name)
