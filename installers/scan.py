"""One pass over a repository's Python files: imports, own modules, syntax features, Python 2 hints.

Files that do not parse are recorded and skipped (pipreqs died on the first one); their
import lines are still read with a regular expression so a broken file's deps are not lost.
"""

from __future__ import annotations

import ast
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from installers.repo_files import RepoFiles

SKIP_DIRS = {
    ".git", ".hg", ".svn", ".venv", "venv", "env", ".env", ".tox", ".nox", "node_modules", "build", "dist",
    "site-packages", "__pycache__", ".eggs", ".mypy_cache", ".pytest_cache", "docs", "doc",
}
MAX_FILE_BYTES = 2_000_000
_PY2_PATTERNS = [
    re.compile(r"^\s*print\s+[\"'\w(][^=]*$", re.M),  # print statement (not print(...) alone)
    re.compile(r"^\s*except\s+[\w.]+\s*,\s*\w+\s*:", re.M),
    re.compile(r"^\s*exec\s+[\"'\w]", re.M),
    re.compile(r"^\s*raise\s+\w+\s*,", re.M),
    re.compile(r"\bur[\"']"),
    re.compile(r"\b0[0-7]+\b(?![.\d])"),
    re.compile(r"`[^`\n]+`"),
]
_IMPORT_RE = re.compile(r"^\s*(?:from\s+([A-Za-z_][\w]*)[\w.]*\s+import|import\s+([A-Za-z_][\w]*))", re.M)
# Python 2 standard library names, so py2/py3 compatibility shims are not taken for PyPI packages.
PY2_STDLIB = {
    "__builtin__", "ConfigParser", "Queue", "StringIO", "cPickle", "cStringIO", "commands", "cookielib",
    "copy_reg", "dummy_thread", "htmlentitydefs", "HTMLParser", "httplib", "md5", "sets", "sha",
    "SocketServer", "thread", "Tkinter", "tkMessageBox", "urllib2", "urlparse", "UserDict", "UserList",
    "UserString", "xmlrpclib", "exceptions", "new", "imp", "asynchat", "asyncore", "distutils",
    "BaseHTTPServer", "SimpleHTTPServer", "CGIHTTPServer", "Cookie", "anydbm", "dbhash", "whichdb",
    "robotparser", "repr", "future_builtins", "_winreg", "winreg", "msvcrt", "_thread", "ntpath",
    "posixpath", "nturl2path", "_dummy_thread", "dummy_threading", "__main__", "__future__",
}


@dataclass
class ScanResult:
    imports: dict[str, list[str]] = field(default_factory=dict)  # top-level name -> files importing it
    optional_imports: set[str] = field(default_factory=set)  # only ever imported inside try/except ImportError
    own_modules: set[str] = field(default_factory=set)  # every module/package name defined in the repo
    top_level: list[str] = field(default_factory=list)  # importable top-level modules of the repo
    src_dirs: list[str] = field(default_factory=list)  # folders to put on sys.path ("." or "src")
    python_files: int = 0
    unparsable: list[str] = field(default_factory=list)
    py2_files: list[str] = field(default_factory=list)
    min_python: tuple[int, int] = (3, 0)  # from syntax features of parsed files
    feature_files: dict[str, str] = field(default_factory=dict)  # feature -> one file using it
    test_files: list[str] = field(default_factory=list)
    conftest_text: str = ""
    refused: list[str] = field(default_factory=list)  # files resolving outside the repository: not read


def iter_python_files(repo: Path, files: RepoFiles | None = None):
    """Python files of the repository; symlinked folders are not followed, symlinks leading outside are refused."""
    files = files or RepoFiles(repo)
    for root, dirs, names in os.walk(repo):  # os.walk does not descend into symlinked folders
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith(".") and not d.endswith(".egg-info"))
        for name in sorted(names):
            if name.endswith(".py"):
                path = Path(root) / name
                if path.is_symlink() and files.inside(path) is None:
                    continue
                yield path


def stdlib_names() -> set[str]:
    names = set(getattr(sys, "stdlib_module_names", ())) | set(sys.builtin_module_names) | PY2_STDLIB
    try:
        from importlib import resources

        text = (resources.files("pipreqs") / "stdlib").read_text()
        names |= {line.strip() for line in text.splitlines() if line.strip() and "." not in line}
    except Exception:
        pass
    return names


def scan_repo(repo: Path, files: RepoFiles | None = None) -> ScanResult:
    repo = Path(repo)
    files = files or RepoFiles(repo)
    res = ScanResult()
    optional_only: dict[str, bool] = {}
    for path in iter_python_files(repo, files):
        rel = str(path.relative_to(repo))
        res.python_files += 1
        _own_names(repo, path, res)
        name = path.name
        if name.startswith("test_") or name.endswith("_test.py") or name == "conftest.py":
            res.test_files.append(rel)
            if name == "conftest.py" and len(res.conftest_text) < 200_000:
                res.conftest_text += (files.read_walked(path) or "") + "\n"
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                continue
        except OSError:
            continue
        text = files.read_walked(path)
        if text is None:
            continue
        try:
            tree = ast.parse(text, filename=rel)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            res.unparsable.append(rel)
            newer = _newer_syntax(text)
            if newer:  # parses with a newer Python than the one scanning
                res.feature_files.setdefault(newer[1], rel)
                res.min_python = max(res.min_python, newer[0])
            elif looks_python2(text):
                res.py2_files.append(rel)
            for m in _IMPORT_RE.finditer(text):
                top = m.group(1) or m.group(2)
                res.imports.setdefault(top, []).append(rel)
                optional_only[top] = optional_only.get(top, True) and True
            continue
        _walk_imports(tree, rel, res, optional_only)
        _features(tree, rel, res)
    res.optional_imports = {n for n, only in optional_only.items() if only}
    res.top_level, res.src_dirs = top_level_modules(repo, files)
    res.refused = list(files.refused)
    return res


_NEWER = [
    (re.compile(r"^\s*type\s+\w+\s*(\[[^\]]*\])?\s*=", re.M), (3, 12), "type statement"),
    (re.compile(r"^\s*(def|class)\s+\w+\[[^\]]*\]\s*\(", re.M), (3, 12), "type parameters"),
    (re.compile(r"^\s*except\s*\*", re.M), (3, 11), "except*"),
    (re.compile(r"^\s*match\s+.+:\s*$\n\s+case\s", re.M), (3, 10), "match"),
]


def _newer_syntax(text: str) -> tuple[tuple[int, int], str] | None:
    for pattern, version, feature in _NEWER:
        if version > sys.version_info[:2] and pattern.search(text):
            return version, feature
    return None


def looks_python2(text: str) -> bool:
    return sum(1 for p in _PY2_PATTERNS if p.search(text)) >= 1


def _own_names(repo: Path, path: Path, res: ScanResult) -> None:
    if path.stem != "__init__":
        res.own_modules.add(path.stem)
    for parent in path.relative_to(repo).parents:
        if parent.name:
            res.own_modules.add(parent.name)


def _guarded(node_stack: list[ast.AST]) -> bool:
    """True if the innermost enclosing try catches ImportError (or everything)."""
    for node in reversed(node_stack):
        if isinstance(node, ast.Try):
            for h in node.handlers:
                names = []
                if h.type is None:
                    return True
                for t in (h.type.elts if isinstance(h.type, ast.Tuple) else [h.type]):
                    names.append(t.id if isinstance(t, ast.Name) else getattr(t, "attr", ""))
                if any(n in ("ImportError", "ModuleNotFoundError", "Exception", "BaseException") for n in names):
                    return True
    return False


def _walk_imports(tree: ast.AST, rel: str, res: ScanResult, optional_only: dict[str, bool]) -> None:
    stack: list[ast.AST] = []

    def visit(node: ast.AST) -> None:
        tops: list[str] = []
        if isinstance(node, ast.Import):
            tops = [a.name.split(".")[0] for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            tops = [node.module.split(".")[0]]
        for top in tops:
            res.imports.setdefault(top, []).append(rel)
            guarded = _guarded(stack) or _in_function(stack)
            optional_only[top] = optional_only.get(top, True) and guarded
        stack.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)
        stack.pop()

    try:
        visit(tree)
    except RecursionError:
        pass


def _in_function(stack: list[ast.AST]) -> bool:
    """Imports inside functions are lazy: they matter only when that code path runs."""
    return any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) for n in stack)


def _features(tree: ast.AST, rel: str, res: ScanResult) -> None:
    def need(version: tuple[int, int], feature: str) -> None:
        res.feature_files.setdefault(feature, rel)
        if version > res.min_python:
            res.min_python = version

    for node in ast.walk(tree):
        if isinstance(node, ast.NamedExpr):
            need((3, 8), "walrus")
        elif isinstance(node, ast.Match):
            need((3, 10), "match")
        elif type(node).__name__ == "TryStar":
            need((3, 11), "except*")
        elif type(node).__name__ == "TypeAlias":
            need((3, 12), "type statement")
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)) and getattr(node, "type_params", None):
            need((3, 12), "type parameters")


def top_level_modules(repo: Path, files: RepoFiles | None = None) -> tuple[list[str], list[str]]:
    """The repo's importable top-level modules and the folders they sit in ('.' or 'src')."""
    files = files or RepoFiles(repo)
    found: list[str] = []
    dirs: list[str] = []
    for base_name in ("src", "."):
        base = repo / base_name
        if not files.is_dir(base):
            continue
        names = []
        for entry in sorted(base.iterdir()):
            if entry.name.startswith((".", "_")) and entry.name != "__init__.py":
                continue
            if entry.is_symlink() and files.inside(entry) is None:
                continue
            if entry.is_dir() and (entry / "__init__.py").is_file() and entry.name.isidentifier():
                if entry.name not in ("tests", "test", "testing", "docs", "examples", "benchmarks", "scripts", "src"):
                    names.append(entry.name)
            elif (entry.is_file() and entry.suffix == ".py" and entry.stem.isidentifier() and base_name == "."
                  and entry.stem not in ("setup", "conftest", "noxfile", "fabfile", "manage", "tasks", "conf")
                  and not entry.stem.startswith("test")):
                names.append(entry.stem)
            elif entry.is_file() and entry.suffix == ".py" and base_name == "src" and entry.stem.isidentifier():
                names.append(entry.stem)
        if names:
            found += names
            dirs.append(base_name)
    packages = [n for n in found if (repo / n).is_dir() or (repo / "src" / n).is_dir()]
    if packages:  # next to packages, root scripts (benchmarks, demos, runners) are not part of the library
        found = [n for n in found if n in packages or not _is_script(repo / f"{n}.py", files)]
    return found, dirs or ["."]


_SCRIPT_NAMES = {"benchmark", "benchmarks", "bench", "example", "examples", "demo", "run", "runtests", "run_tests",
                 "main", "build", "release", "bootstrap", "ez_setup", "distribute_setup", "update", "install"}


def _is_script(path: Path, files: RepoFiles) -> bool:
    if not path.is_file():
        return False
    if path.stem.lower() in _SCRIPT_NAMES:
        return True
    return bool(re.search(r"^if\s+__name__\s*==\s*['\"]__main__['\"]", files.read_text(path) or "", re.M))
