"""Install plans from fixture repos made in temp folders: declared, inferred, Python version, Python 2."""

from __future__ import annotations

from pathlib import Path

from installers.declared import read_declared, req_name
from installers.plan import distribution_for, import_table, make_plan


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


def names(reqs):
    return sorted(req_name(r) for r in reqs)


def test_declared_from_every_format(tmp_path):
    repo = write(tmp_path, {
        "pyproject.toml": '[project]\nname = "x"\nrequires-python = ">=3.9"\ndependencies = ["requests>=2", "click"]\n'
                          '[project.optional-dependencies]\ntest = ["pytest-mock"]\ndocs = ["sphinx"]\n'
                          '[tool.poetry.dependencies]\npython = "^3.8"\nrich = "^13.1"\n',
        "setup.cfg": "[options]\ninstall_requires =\n    attrs>=20\n    # comment\ntests_require = hypothesis\n",
        "setup.py": "from setuptools import setup\nDEPS = ['six']\nsetup(name='x', install_requires=DEPS + ['toolz'],"
                    " extras_require={'testing': ['freezegun']})\n",
        "requirements.txt": "numpy==1.26.4  # pinned\n-r requirements/base.txt\n-e .\ngit+https://example.com/x.git\n",
        "requirements/base.txt": "tqdm\n",
        "requirements-dev.txt": "black\n",
        "requirements-docs.txt": "sphinx-rtd-theme\n", "requirements/lint.txt": "flake8\n",
        "requirements/tests39.txt": "pytest-cov\n",
        "Pipfile": '[packages]\nsimplejson = "*"\n[dev-packages]\nnose = "*"\n',
        "environment.yml": "name: x\ndependencies:\n  - python=3.9\n  - pip\n  - pip:\n    - tabulate>=0.8\n",
        "tox.ini": "[testenv]\ndeps =\n    coverage\n    {posargs}\n",
    })
    d = read_declared(repo)
    assert names(d.requirements) == sorted(["requests", "click", "rich", "attrs", "six", "toolz", "numpy", "tqdm",
                                            "simplejson", "tabulate"])
    assert {"pytest-mock", "hypothesis", "freezegun", "black", "nose", "coverage"} <= set(names(d.test_requirements))
    assert not {"sphinx", "sphinx-rtd-theme", "flake8"} & set(names(d.requirements + d.test_requirements))
    assert "pytest-cov" in names(d.test_requirements)
    assert d.requires_python == ">=3.9" and d.installable
    assert "numpy==1.26.4" in d.requirements


def test_broken_packaging_files_are_notes_not_crashes(tmp_path):
    repo = write(tmp_path, {"pyproject.toml": "[project\nname = ", "setup.py": "setup(install_requires=[\n",
                            "requirements.txt": "flask\n"})
    d = read_declared(repo)
    assert names(d.requirements) == ["flask"]
    assert any("pyproject" in n for n in d.notes) and any("setup_py" in n for n in d.notes)


def test_imports_only_repo_with_unparsable_file(tmp_path):
    repo = write(tmp_path, {
        "pkg/__init__.py": "import yaml\nfrom bs4 import BeautifulSoup\nimport os, json\nfrom . import helpers\n",
        "pkg/helpers.py": "import numpy as np\nfrom pkg import other\n",
        "pkg/other.py": "try:\n    import ujson as json\nexcept ImportError:\n    import json\n",
        "pkg/broken.py": "def f(:\n    import tabulate\n",
        "scripts/tool.py": "import helpers_local\n",
        "scripts/helpers_local.py": "X = 1\n",
        "tests/test_pkg.py": "import pkg\n\ndef test_x(mocker):\n    assert pkg\n",
    })
    plan = make_plan(repo)
    assert plan.inferred == {"yaml": "PyYAML", "bs4": "beautifulsoup4", "numpy": "numpy"}
    assert plan.optional == {"ujson": "ujson", "tabulate": "tabulate"}  # guarded import; broken file's import
    assert plan.unparsable == ["pkg/broken.py"]
    assert plan.top_level == ["pkg"] and plan.has_tests
    assert names(plan.test_requirements) == ["pytest", "pytest-mock"]
    assert not plan.installable and not plan.python2


def test_import_name_differs_from_distribution(tmp_path):
    assert len(import_table()) > 800  # pipreqs' table is loaded
    assert distribution_for("sklearn") == "scikit-learn"
    assert distribution_for("cv2") == "opencv-python-headless"
    assert distribution_for("google") is None
    repo = write(tmp_path, {"app.py": "import sklearn\nimport dateutil.parser\nimport attr\n",
                            "requirements.txt": "python-dateutil\n"})
    plan = make_plan(repo)
    assert plan.inferred == {"attr": "attrs", "sklearn": "scikit-learn"}  # dateutil is declared already
    assert plan.top_level == ["app"]


def test_src_layout_and_own_modules_excluded(tmp_path):
    repo = write(tmp_path, {"src/mylib/__init__.py": "from mylib.core import f\nimport mylib.util\n",
                            "src/mylib/core.py": "import requests\ndef f(): pass\n",
                            "src/mylib/util.py": "", "tests/conftest.py": "pytest_plugins = ['pytest_asyncio']\n",
                            "pytest.ini": "[pytest]\naddopts = --cov=mylib -n 2\n"})
    plan = make_plan(repo)
    assert plan.inferred == {"requests": "Requests"}  # pipreqs' table spelling
    assert plan.top_level == ["mylib"] and plan.src_dirs == ["src"]
    assert {"pytest-cov", "pytest-xdist", "pytest-asyncio"} <= set(names(plan.test_requirements))


def test_python_version_choice(tmp_path):
    old = write(tmp_path / "old", {"setup.py": "from setuptools import setup\nsetup(classifiers=["
                                   "'Programming Language :: Python :: 3.7', 'Programming Language :: Python :: 3.9'])\n",
                                   "m.py": "x = 1\n"})
    assert make_plan(old).python == "3.9"
    new = write(tmp_path / "new", {"pyproject.toml": '[project]\nname="n"\nrequires-python = ">=3.12"\n', "m.py": ""})
    plan = make_plan(new)
    assert plan.python == "3.13" and "requires-python" in plan.python_reason
    feat = write(tmp_path / "feat", {"m.py": "match 1:\n    case 1:\n        pass\n"})
    assert make_plan(feat).python == "3.11"
    star = write(tmp_path / "star", {"m.py": "type X = int\n"})
    assert make_plan(star).python == "3.13"
    assert make_plan(feat, python="3.9").python == "3.9"


def test_python2_repo_is_classified(tmp_path):
    repo = write(tmp_path / "p2", {"lib.py": "import urllib2\nprint 'hello'\n",
                                   "util.py": "try:\n    pass\nexcept ValueError, e:\n    pass\n",
                                   "ok.py": "x = 1\n"})
    plan = make_plan(repo)
    assert plan.python2 and plan.inferred == {}  # urllib2 is Python 2's stdlib
    mixed = write(tmp_path / "mixed", {"a.py": "print 'x'\n", **{f"m{i}.py": "x = 1\n" for i in range(5)}})
    assert not make_plan(mixed).python2
    cls = write(tmp_path / "cls", {"setup.py": "from setuptools import setup\nsetup(classifiers="
                                   "['Programming Language :: Python :: 2.7'])\n", "m.py": "x = 1\n"})
    assert make_plan(cls).python2


def test_root_scripts_next_to_packages_are_not_imported_by_the_oracle(tmp_path):
    repo = write(tmp_path, {"lib/__init__.py": "", "benchmark.py": "import numpy\n", "helper.py": "X = 1\n",
                            "tool.py": "def main():\n    pass\n\nif __name__ == '__main__':\n    main()\n"})
    assert make_plan(repo).top_level == ["helper", "lib"]
    single = write(tmp_path / "single", {"onefile.py": "if __name__ == '__main__':\n    pass\n"})
    assert make_plan(single).top_level == ["onefile"]  # a one-module library keeps its module
