"""The package installs with its data, exposes `r2e`, and importing it changes nothing."""

import os
import shutil
import subprocess
import sys
import zipfile

from tests.conftest import PROJECT_ROOT

PACKAGES = ["r2e", "installers", "harness", "seart"]

IMPORT_ALL = """
import importlib, logging, pkgutil, sys
handlers_before = len(logging.getLogger().handlers)
for top in sys.argv[1:]:
    pkg = importlib.import_module(top)
    for info in pkgutil.walk_packages(pkg.__path__, top + "."):
        if ".examples" in info.name:
            continue
        importlib.import_module(info.name)
assert len(logging.getLogger().handlers) == handlers_before, "a module attached a logging handler"
print("imported")
"""


def test_importing_every_module_has_no_side_effects(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    r2e_home = tmp_path / "r2e-home"
    env = {**os.environ, "HOME": str(home), "R2E_HOME": str(r2e_home), "PYTHONPATH": str(PROJECT_ROOT)}
    p = subprocess.run([sys.executable, "-c", IMPORT_ALL, *PACKAGES], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and "imported" in p.stdout, p.stderr
    assert not r2e_home.exists()
    assert list(home.iterdir()) == []
    assert sorted(x.name for x in tmp_path.iterdir()) == ["home"]


def test_wheel_carries_package_data_and_console_script(tmp_path):
    # Build from a clean copy: a stale build/ folder in the checkout would hide missing packages.
    source = tmp_path / "src"
    shutil.copytree(PROJECT_ROOT, source, ignore=shutil.ignore_patterns(
        "build", "dist", "*.egg-info", ".git", "__pycache__", ".pytest_cache"))
    p = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(source)],
        capture_output=True, text=True, timeout=300,
    )
    assert p.returncode == 0, p.stderr
    (wheel,) = tmp_path.glob("r2e-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "r2e/examples/minilib/minilib/stats.py" in names
    assert "r2e/examples/minilib/tests/test_stats.py" in names
    assert "harness/prompts/generate.txt" in names and "harness/data/offline_harness.py.tmpl" in names
    assert "harness/carve/data/carved_harness.py.tmpl" in names and "harness/sandbox/tracer.py" in names
    for pkg in PACKAGES:
        assert f"{pkg}/__init__.py" in names
        # every module of the source tree ships (a folder without __init__.py silently would not)
        for source in (PROJECT_ROOT / pkg).rglob("*.py"):
            rel = source.relative_to(PROJECT_ROOT).as_posix()
            if "/examples/" not in rel and "__pycache__" not in rel:
                assert rel in names, f"{rel} is missing from the wheel"
    assert not any(n.startswith("tests/") for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "r2e = r2e.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_version_and_help(run_r2e):
    p = run_r2e("--version")
    assert p.returncode == 0 and "r2e, version" in p.stdout
    p = run_r2e("--help")
    assert p.returncode == 0 and "setup" in p.stdout and "quickstart" in p.stdout
