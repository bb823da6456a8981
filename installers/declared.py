"""Dependencies a repository declares: pyproject (PEP 621, poetry, flit), setup.cfg, setup.py (read,
never run), requirements*.txt / requirements/ / requirements.in, Pipfile, environment.yml, tox.ini.

Every reader tolerates broken files: a file that cannot be read adds a note, never an exception.
Every file is read through `RepoFiles`: one that resolves outside the repository (a symlink, an
include like `-r /etc/x` or `-r ../../x`) is refused and listed in `refused`, never read.
"""

from __future__ import annotations

import ast
import configparser
import re
from dataclasses import dataclass, field
from pathlib import Path

from installers.repo_files import RepoFiles

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

TEST_EXTRA_NAMES = {"test", "tests", "testing", "dev", "develop", "development", "check", "ci"}
_REQ_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_LOCAL_REF = re.compile(r"@\s*(file:|[./~]|[A-Za-z]:\\)", re.I)


@dataclass
class Declared:
    requirements: list[str] = field(default_factory=list)  # runtime
    test_requirements: list[str] = field(default_factory=list)
    requires_python: str | None = None
    classifier_pythons: list[str] = field(default_factory=list)  # "2.7", "3.8", ...
    installable: bool = False  # pyproject with a build system, setup.py or setup.cfg metadata
    sources: list[str] = field(default_factory=list)  # files that contributed
    notes: list[str] = field(default_factory=list)  # files that could not be read, and why
    refused: list[str] = field(default_factory=list)  # paths refused: outside the repository


def req_name(req: str) -> str | None:
    """The normalised distribution name of a requirement line, or None if it has none."""
    m = _REQ_NAME.match(req)
    return normalize(m.group(1)) if m else None


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def clean_requirement(line: str) -> str | None:
    """A usable requirement string from one line, or None (comments, options, local paths)."""
    line = line.split(" #", 1)[0].strip()
    if not line or line.startswith(("#", "-", ".", "/")) or "://" in line and "@" not in line:
        return None
    if _LOCAL_REF.search(line):  # `name @ file:...` or a path: would make the installer read a local file
        return None
    if line.startswith(("git+", "hg+", "svn+", "bzr+")):
        return None  # VCS URLs need the network beyond PyPI
    if "{" in line or "}" in line:  # tox substitutions
        return None
    return line if req_name(line) else None


def read_declared(repo: Path, files: RepoFiles | None = None) -> Declared:
    d = Declared()
    files = files or RepoFiles(repo)
    for reader in (_pyproject, _setup_cfg, _setup_py, _requirements_files, _pipfile, _environment_yml, _tox_ini):
        try:
            reader(files, d)
        except Exception as exc:  # a broken file is a note, never a crash
            d.notes.append(f"{reader.__name__.lstrip('_')}: {type(exc).__name__}: {exc}"[:300])
    d.refused = list(files.refused)
    d.requirements = dedupe_requirements(d.requirements)
    names = {req_name(r) for r in d.requirements}
    d.test_requirements = [r for r in dedupe_requirements(d.test_requirements) if req_name(r) not in names]
    d.classifier_pythons = sorted(set(d.classifier_pythons), key=lambda v: tuple(int(x) for x in v.split(".")))
    return d


def dedupe_requirements(reqs: list[str]) -> list[str]:
    """One requirement per distribution, the first one given winning."""
    seen: dict[str, str] = {}
    for r in reqs:
        name = req_name(r)
        if name and name not in seen:
            seen[name] = r
    return list(seen.values())


def _classifiers(classifiers, d: Declared) -> None:
    for c in classifiers or []:
        m = re.match(r"Programming Language :: Python :: (\d\.\d+)\s*$", str(c))
        if m:
            d.classifier_pythons.append(m.group(1))


def _add_extras(extras: dict, d: Declared) -> None:
    for name, reqs in (extras or {}).items():
        if str(name).lower() in TEST_EXTRA_NAMES:
            d.test_requirements += [r for r in map(clean_requirement, _as_list(reqs)) if r]


def _as_list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [line for line in value.splitlines() if line.strip()]
    return [str(v) for v in value]


def _pyproject(files: RepoFiles, d: Declared) -> None:
    text = files.read_text("pyproject.toml")
    if text is None:
        return
    data = tomllib.loads(text)
    d.sources.append("pyproject.toml")
    build = data.get("build-system") or {}
    project = data.get("project") or {}
    tool = data.get("tool") or {}
    if build.get("build-backend") or project.get("name") or (tool.get("poetry") or {}).get("name"):
        d.installable = True
    if project:
        d.requirements += [r for r in map(clean_requirement, project.get("dependencies") or []) if r]
        _add_extras(project.get("optional-dependencies"), d)
        d.requires_python = d.requires_python or project.get("requires-python")
        _classifiers(project.get("classifiers"), d)
    for group, reqs in (data.get("dependency-groups") or {}).items():
        if str(group).lower() in TEST_EXTRA_NAMES:
            d.test_requirements += [r for r in map(clean_requirement, reqs) if isinstance(r, str) and r]
    poetry = tool.get("poetry") or {}
    if poetry:
        for name, spec in (poetry.get("dependencies") or {}).items():
            if name.lower() == "python":
                d.requires_python = d.requires_python or _poetry_spec(spec)
                continue
            req = _poetry_req(name, spec)
            if req:
                d.requirements.append(req)
        dev = dict(poetry.get("dev-dependencies") or {})
        for group, body in (poetry.get("group") or {}).items():
            if str(group).lower() in TEST_EXTRA_NAMES:
                dev.update(body.get("dependencies") or {})
        d.test_requirements += [r for r in (_poetry_req(n, s) for n, s in dev.items()) if r]
        _classifiers(poetry.get("classifiers"), d)
    flit = (tool.get("flit") or {}).get("metadata") or {}
    if flit:
        d.installable = True
        d.requirements += [r for r in map(clean_requirement, flit.get("requires") or []) if r]
        d.requires_python = d.requires_python or flit.get("requires-python")
        _add_extras(flit.get("requires-extra"), d)
        _classifiers(flit.get("classifiers"), d)


def _poetry_spec(spec) -> str | None:
    if isinstance(spec, dict):
        spec = spec.get("version")
    if not isinstance(spec, str) or spec.strip() in ("", "*"):
        return None
    spec = spec.strip()
    m = re.match(r"^\^(\d+)(?:\.(\d+))?(?:\.(\d+))?$", spec)
    if m:  # ^1.2 -> >=1.2,<2
        major = int(m.group(1))
        low = ".".join(g for g in m.groups() if g is not None)
        return f">={low},<{major + 1}" if major > 0 else f">={low}"
    m = re.match(r"^~(\d+)\.(\d+)(?:\.\d+)?$", spec)
    if m:
        return f">={spec[1:]},<{m.group(1)}.{int(m.group(2)) + 1}"
    if spec[0].isdigit():
        return f"=={spec}"
    return spec


def _poetry_req(name: str, spec) -> str | None:
    if isinstance(spec, dict) and (spec.get("path") or spec.get("git") or spec.get("url")):
        return None
    if isinstance(spec, list):
        spec = spec[0] if spec else "*"
    version = _poetry_spec(spec)
    return clean_requirement(f"{name}{version or ''}")


def _setup_cfg(files: RepoFiles, d: Declared) -> None:
    text = files.read_text("setup.cfg")
    if text is None:
        return
    cp = configparser.ConfigParser(interpolation=None, strict=False)
    cp.read_string(text)
    if cp.has_section("metadata") or cp.has_section("options"):
        d.sources.append("setup.cfg")
        d.installable = True
    if cp.has_option("options", "install_requires"):
        d.requirements += [r for r in map(clean_requirement, _as_list(cp.get("options", "install_requires"))) if r]
    if cp.has_option("options", "tests_require"):
        d.test_requirements += [r for r in map(clean_requirement, _as_list(cp.get("options", "tests_require"))) if r]
    if cp.has_option("options", "python_requires"):
        d.requires_python = d.requires_python or cp.get("options", "python_requires").strip()
    if cp.has_section("options.extras_require"):
        _add_extras(dict(cp.items("options.extras_require")), d)
    if cp.has_option("metadata", "classifiers"):
        _classifiers(_as_list(cp.get("metadata", "classifiers")), d)


def _literal(node, names: dict[str, ast.AST]):
    """Evaluate a literal, following module-level names and simple `+` of lists."""
    if isinstance(node, ast.Name) and node.id in names:
        return _literal(names[node.id], names)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _literal(node.left, names), _literal(node.right, names)
        if isinstance(left, list) and isinstance(right, list):
            return left + right
        return None
    if isinstance(node, (ast.List, ast.Tuple)):
        items = [_literal(e, names) for e in node.elts]
        return [i for i in items if isinstance(i, str)]
    if isinstance(node, ast.Dict):
        out = {}
        for k, v in zip(node.keys, node.values):
            key = _literal(k, names) if k is not None else None
            if isinstance(key, str):
                out[key] = _literal(v, names)
        return out
    try:
        return ast.literal_eval(node)
    except Exception:
        return None


def _setup_py(files: RepoFiles, d: Declared) -> None:
    text = files.read_text("setup.py")
    if text is None:
        return
    d.installable = True
    d.sources.append("setup.py")
    tree = ast.parse(text)
    names: dict[str, ast.AST] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            names[node.targets[0].id] = node.value
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        fname = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        if fname != "setup":
            continue
        for kw in node.keywords:
            value = _literal(kw.value, names)
            if kw.arg == "install_requires":
                d.requirements += [r for r in map(clean_requirement, _as_list(value)) if r]
            elif kw.arg == "tests_require":
                d.test_requirements += [r for r in map(clean_requirement, _as_list(value)) if r]
            elif kw.arg == "extras_require" and isinstance(value, dict):
                _add_extras(value, d)
            elif kw.arg == "python_requires" and isinstance(value, str):
                d.requires_python = d.requires_python or value
            elif kw.arg == "classifiers":
                _classifiers(_as_list(value), d)


_INCLUDE = re.compile(r"^(-r|--requirement|-c|--constraint|-e|--editable)\s*=?\s*(\S+)")


def _read_req_file(files: RepoFiles, path: Path, seen: set[Path], what: str | None = None) -> list[str]:
    real = files.inside(path, what)
    if real is None or real in seen or not real.is_file():
        return []
    seen.add(real)
    text = files.read_text(real, what or files.label(path))
    out: list[str] = []
    for raw in (text or "").splitlines():
        line = raw.strip()
        m = _INCLUDE.match(line)
        if m:
            flag, target = m.groups()
            include = f"{files.label(path)}: {flag} {target}"
            if flag in ("-e", "--editable"):
                _check_editable(files, real.parent, target, include)
            elif flag in ("-r", "--requirement"):
                out += _read_req_file(files, _local_target(real.parent, target), seen, include)
            else:  # constraints are not installed, but still never read from outside
                files.inside(_local_target(real.parent, target), include)
            continue
        req = clean_requirement(line)
        if req:
            out.append(req)
    return out


def _local_target(base: Path, target: str) -> Path:
    target = re.sub(r"^file:(//)?", "", target)
    return Path(target) if target.startswith("/") else base / target


def _check_editable(files: RepoFiles, base: Path, target: str, include: str) -> None:
    """Editable installs are never part of the plan; a local one outside the repository is recorded as refused."""
    if "://" in target and not target.startswith("file:"):
        return  # a VCS/URL editable: not a local read, and not installed either
    files.inside(_local_target(base, target.split("#", 1)[0]), include)


SKIPPED_REQ_WORDS = ("doc", "lint", "release", "publish", "update", "upgrade", "style", "format", "typing", "mypy",
                     "bench", "deploy", "build", "constraint")


def _req_file_role(name: str) -> str:
    """'test', 'skip' (docs, lint, release tooling...) or 'runtime', from a requirements file's name."""
    low = name.lower()
    if "test" in low or low.startswith(("requirements-dev", "requirements_dev", "dev")) or "-ci" in low:
        return "test"
    if any(w in low for w in SKIPPED_REQ_WORDS):
        return "skip"
    return "runtime"


def _requirements_files(files: RepoFiles, d: Declared) -> None:
    repo = files.repo
    found = sorted(repo.glob("requirements*.txt")) + sorted(repo.glob("requirements*.in"))
    for folder in ("requirements", "reqs", "requirements.d"):
        if files.is_dir(folder):  # a folder symlinked outside is not even listed
            found += sorted((repo / folder).glob("*.txt")) + sorted((repo / folder).glob("*.in"))
    seen: set[Path] = set()
    for f in found:
        rel = str(f.relative_to(repo))
        role = _req_file_role(rel.replace("/", "-"))
        if role == "skip":
            continue
        reqs = _read_req_file(files, f, seen)
        if not reqs:
            continue
        d.sources.append(rel)
        if role == "test":
            d.test_requirements += reqs
        else:
            d.requirements += reqs


def _pipfile(files: RepoFiles, d: Declared) -> None:
    text = files.read_text("Pipfile")
    if text is None:
        return
    data = tomllib.loads(text)
    d.sources.append("Pipfile")
    for section, target in (("packages", d.requirements), ("dev-packages", d.test_requirements)):
        for name, spec in (data.get(section) or {}).items():
            if isinstance(spec, dict):
                if spec.get("path") or spec.get("git") or spec.get("file"):
                    continue
                spec = spec.get("version", "*")
            req = clean_requirement(name + ("" if spec in ("*", "", None) else str(spec)))
            if req:
                target.append(req)
    version = (data.get("requires") or {}).get("python_version")
    if version and not d.requires_python:
        d.requires_python = f">={version}"


def _environment_yml(files: RepoFiles, d: Declared) -> None:
    for name in ("environment.yml", "environment.yaml"):
        text = files.read_text(name)
        if text is None:
            continue
        in_pip, pip_indent = False, 0
        found = []
        for raw in text.splitlines():
            stripped = raw.strip()
            indent = len(raw) - len(raw.lstrip())
            if re.match(r"^-\s*pip\s*:\s*$", stripped):
                in_pip, pip_indent = True, indent
                continue
            if in_pip:
                if stripped.startswith("-") and indent > pip_indent:
                    req = clean_requirement(stripped[1:].strip().strip("'\""))
                    if req:
                        found.append(req)
                elif stripped:
                    in_pip = False
        if found:
            d.sources.append(name)
            d.requirements += found


def _tox_ini(files: RepoFiles, d: Declared) -> None:
    text = files.read_text("tox.ini")
    if text is None:
        return
    cp = configparser.ConfigParser(interpolation=None, strict=False)
    cp.read_string(text)
    if cp.has_option("testenv", "deps"):
        reqs = []
        for line in _as_list(cp.get("testenv", "deps")):
            line = line.strip()
            if line.startswith("-r"):
                target = line[2:].strip().replace("{toxinidir}/", "")
                reqs += _read_req_file(files, _local_target(files.repo, target), set(), f"tox.ini: -r {target}")
            else:
                req = clean_requirement(re.sub(r"^[\w,-]+:\s*", "", line))
                if req:
                    reqs.append(req)
        if reqs:
            d.sources.append("tox.ini")
            d.test_requirements += reqs
