"""The test command of record: what a repository's maintainers actually run, found by reading files.

Sources in order of trust: CI workflows (GitHub Actions, GitLab CI, Travis, Azure Pipelines), tox and
nox test environments, Makefile / justfile / package.json test targets, pytest configuration, unittest
layouts (aggregator modules, ``setup.py test`` suites, TestCases in files not named test_*.py), README
sections on running tests, and finally a plain ``python -m pytest``.

Everything here is host-side reading: no repository code is executed (noxfiles are parsed with ast),
and every file read must resolve inside the repository, so a hostile repository cannot make R2E read
host files through symlinks. A source that cannot be parsed is skipped with the reason recorded.
"""

from __future__ import annotations

import ast
import configparser
import json
import re
import shlex
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

from r2e.errors import R2EError

try:  # stdlib on 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

# Tool indirections (CI -> tox -> make -> script) are followed this deep; deeper chains are not
# how maintainers write test commands, and a cycle must not hang discovery.
MAX_DEPTH = 4
UNRESOLVED = "@@UNRESOLVED@@"  # marks an argument whose value only exists at CI run time (matrix, secrets)


@dataclass(frozen=True)
class Candidate:
    """One test command found in one source, kept for the record."""

    runner: str
    command: str
    source: str
    reason: str


@dataclass(frozen=True)
class Skipped:
    """A source that was not used, and why (unparseable, outside the repository, ...)."""

    source: str
    reason: str


@dataclass(frozen=True)
class TestCommand:
    """The command of record: a shell command run at the repository root with the env's interpreter."""

    __test__ = False  # not a pytest test class despite the name

    runner: str  # pytest | unittest | module | script | make | tox | nox | npm | custom
    command: str
    argv: tuple[str, ...]
    source: str
    reason: str
    cwd: str = "."
    env: tuple[tuple[str, str], ...] = ()
    pytest_config: str | None = None
    pytest_addopts: tuple[str, ...] = ()
    testpaths: tuple[str, ...] = ()
    markers: tuple[str, ...] = ()
    plugins_needed: tuple[str, ...] = ()
    candidates: tuple[Candidate, ...] = ()
    skipped: tuple[Skipped, ...] = ()

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class _Found:
    runner: str
    argv: tuple[str, ...]
    chain: tuple[str, ...]  # sources from the most trusted (CI step) to the one holding the command
    cwd: str = "."
    env: tuple[tuple[str, str], ...] = ()

    def command(self) -> str:
        cmd = shlex.join(self.argv)
        if self.env:
            cmd = " ".join(f"{k}={shlex.quote(v)}" for k, v in self.env) + " " + cmd
        if self.cwd not in ("", "."):
            cmd = f"cd {shlex.quote(self.cwd)} && {cmd}"
        return cmd


@dataclass(frozen=True)
class _PytestConfig:
    file: str
    addopts: tuple[str, ...]
    testpaths: tuple[str, ...]
    markers: tuple[str, ...]
    keys: frozenset[str]
    required_plugins: tuple[str, ...]


@lru_cache(maxsize=1)
def _rules() -> dict:
    return json.loads((resources.files("installers") / "data" / "test_discovery.json").read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _plugin_table() -> dict:
    return json.loads((resources.files("installers") / "data" / "pytest_plugins.json").read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------------------------- reading


class _Reader:
    """Reads files of one repository, refusing anything that resolves outside it."""

    def __init__(self, repo: Path):
        self.root = repo.resolve()
        self.skipped: list[Skipped] = []

    def _inside(self, rel: str) -> Path | None:
        path = self.root / rel
        if not path.exists() and not path.is_symlink():
            return None
        try:
            real = path.resolve()
        except (OSError, RuntimeError):  # symlink loop
            self._skip(rel, "unresolvable symlink")
            return None
        if real != self.root and self.root not in real.parents:
            self._skip(rel, f"resolves outside the repository ({real}); not read")
            return None
        return real

    def _skip(self, source: str, reason: str) -> None:
        if not any(s.source == source for s in self.skipped):
            self.skipped.append(Skipped(source, reason))

    def read(self, rel: str) -> str | None:
        real = self._inside(rel)
        if real is None or not real.is_file():
            return None
        if real.stat().st_size > _rules()["max_file_bytes"]:
            self._skip(rel, "larger than the read limit")
            return None
        try:
            return real.read_text(encoding="utf-8", errors="replace")
        except OSError as e:
            self._skip(rel, f"unreadable: {e.strerror or e}")
            return None

    def is_dir(self, rel: str) -> bool:
        real = self._inside(rel)
        return real is not None and real.is_dir()

    def is_file(self, rel: str) -> bool:
        real = self._inside(rel)
        return real is not None and real.is_file()

    def listdir(self, rel: str) -> list[str]:
        real = self._inside(rel)
        if real is None or not real.is_dir():
            return []
        return sorted(p.name for p in real.iterdir())

    def walk_py(self, rel: str, limit: int = 500) -> list[str]:
        """Python files under a folder (relative paths), not following symlinked folders."""
        out: list[str] = []
        stack = [rel]
        while stack and len(out) < limit:
            d = stack.pop()
            for name in self.listdir(d):
                sub = f"{d}/{name}"
                p = self.root / sub
                if p.is_symlink():
                    continue
                if p.is_dir() and not name.startswith((".", "__pycache__")):
                    stack.append(sub)
                elif name.endswith(".py"):
                    out.append(sub)
        return sorted(out)


# ------------------------------------------------------------------------------------- shell commands


def _script_lines(script: str) -> list[str]:
    text = re.sub(r"\\\r?\n", " ", script)
    # values that exist only when CI runs: GitHub expressions and shell command substitutions
    text = re.sub(r"\$\{\{.*?\}\}|\$\([^()]*\)|`[^`]*`", UNRESOLVED, text)
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]


_SEPARATORS = {"&&", "||", ";", "|", "&"}
_REDIRECT = re.compile(r"^\d?(>>?|<)&?\d*$|^\d?>>?&?\S+$|^<\S+$|^\d>&\d$")


def _segments(line: str) -> list[list[str]] | None:
    """A shell line split into simple commands (on && || ; |), redirections removed; None if unparseable."""
    try:
        tokens = shlex.split(line, comments=True)
    except ValueError:
        return None
    out: list[list[str]] = [[]]
    skip_next = False
    for tok in tokens:
        if skip_next:
            skip_next = False
            continue
        if tok in _SEPARATORS:
            out.append([])
            continue
        if _REDIRECT.match(tok):
            skip_next = bool(re.match(r"^\d?(>>?|<)&?$", tok))
            continue
        end = tok.endswith(";") and not tok.endswith("\\;")
        tok = tok[:-1] if end else tok
        if tok:
            out[-1].append(tok)
        if end:
            out.append([])
    return [seg for seg in out if seg]


def _is_python(word: str) -> bool:
    base = word.rsplit("/", 1)[-1]
    return bool(re.fullmatch(r"(python|pypy)(\d(\.\d+)?t?)?(\.exe)?|py|\{envpython\}|\$\{?PYTHON\}?|sys\.executable", base))


def _subst_vars(token: str, variables: dict[str, str]) -> str:
    """$VAR / ${VAR} from literal CI/Make variables; GitHub ${{ }} expressions stay unresolved."""
    if "${{" in token:
        return UNRESOLVED
    def repl(m: re.Match) -> str:
        name = m.group(1) or m.group(2)
        val = variables.get(name)
        return UNRESOLVED if val is None else val
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", repl, token)


def _clean_pytest_args(args: list[str]) -> tuple[str, ...]:
    """Drop arguments that only exist at CI run time; an option whose value is dropped goes too."""
    value_opts = set(_rules()["pytest_value_options"])
    out: list[str] = []
    for tok in args:
        if UNRESOLVED in tok or "${{" in tok or re.search(r"\{[\w:\[\]-]*\}", tok) or re.search(r"\$\w|\$\{", tok):
            if out and out[-1] in value_opts:
                out.pop()
            continue
        out.append(tok)
    return tuple(out)


def _replace_posargs(line: str) -> str:
    """{posargs} -> nothing, {posargs:default} -> default; the default may hold {toxinidir}-style braces."""
    while (start := line.find("{posargs")) >= 0:
        depth, end = 0, len(line)
        for i in range(start, len(line)):
            depth += line[i] == "{"
            depth -= line[i] == "}"
            if depth == 0:
                end = i
                break
        inner = line[start + len("{posargs"):end]
        line = line[:start] + (inner[1:] if inner.startswith(":") else "") + line[end + 1:]
    return line


def _tox_subst(line: str, setenv: dict[str, str]) -> str:
    """tox substitutions that have a value outside tox; the rest are left for _clean_pytest_args."""
    line = _replace_posargs(line)
    line = re.sub(r"\{env:(\w+)(?::([^{}]*))?\}", lambda m: setenv.get(m.group(1), m.group(2) or ""), line)
    for prefix in _rules()["tox_dir_substitutions"]:
        line = line.replace(prefix, "")
    line = re.sub(r"\{(toxinidir|tox_root)\}", ".", line)
    line = re.sub(r"\{envpython\}", "python", line)
    line = re.sub(r"\{(envbindir|env_bin_dir)\}/", "", line)
    return line


# ------------------------------------------------------------------------------------- the discoverer


@dataclass
class _Ctx:
    chain: tuple[str, ...]
    variables: dict[str, str] = field(default_factory=dict)
    cwd: str = "."
    depth: int = 0
    tox_env: str | None = None  # TOX_ENV / TOXENV given by the CI step's environment

    def deeper(self, source: str, **kw) -> "_Ctx":
        return _Ctx(chain=self.chain + (source,), variables=kw.get("variables", self.variables),
                    cwd=kw.get("cwd", self.cwd), depth=self.depth + 1, tox_env=kw.get("tox_env", self.tox_env))


class _Discoverer:
    def __init__(self, repo: Path):
        self.r = _Reader(repo)
        self.rules = _rules()

    # -- interpreting one shell block -----------------------------------------------------------

    def run_block(self, script: str, ctx: _Ctx) -> list[_Found]:
        found: list[_Found] = []
        cwd = ctx.cwd
        for line in _script_lines(script):
            segs = _segments(line)
            if segs is None:
                continue
            for seg in segs:
                if seg[0] in ("cd", "pushd"):
                    target = _subst_vars(seg[1], ctx.variables) if len(seg) > 1 else "."
                    cwd = self._join_cwd(cwd, target)
                    continue
                if seg[0] == "popd":
                    cwd = ctx.cwd
                    continue
                if cwd is None:  # a folder outside the repository (a cloned downstream project)
                    continue
                sub = _Ctx(ctx.chain, ctx.variables, cwd, ctx.depth, ctx.tox_env)
                found += self.interpret(seg, sub)
        return found

    def _join_cwd(self, cwd: str | None, target: str) -> str | None:
        if cwd is None or UNRESOLVED in target or target.startswith(("/", "~", "-")) or "$" in target:
            return None
        joined = str(Path(cwd, target)).replace("\\", "/")
        parts: list[str] = []
        for part in joined.split("/"):
            if part in ("", "."):
                continue
            if part == "..":
                if not parts:
                    return None
                parts.pop()
            else:
                parts.append(part)
        rel = "/".join(parts) or "."
        return rel if rel == "." or self.r.is_dir(rel) else None

    def interpret(self, tokens: list[str], ctx: _Ctx) -> list[_Found]:
        """The test invocation(s) one simple command amounts to, following tool indirections."""
        if ctx.depth > MAX_DEPTH:
            return []
        env: list[tuple[str, str]] = []
        tokens = list(tokens)
        while tokens and re.match(r"^[A-Za-z_]\w*=", tokens[0]):
            k, v = tokens.pop(0).split("=", 1)
            if UNRESOLVED not in v and "${{" not in v:
                env.append((k, v))
        tokens = self._strip_wrappers([_subst_vars(t, ctx.variables) if "$" in t else t for t in tokens])
        while tokens and re.match(r"^[A-Za-z_]\w*=", tokens[0]):  # `env FOO=1 pytest`
            k, v = tokens.pop(0).split("=", 1)
            env.append((k, v))
        if not tokens:
            return []
        head, args = tokens[0], tokens[1:]
        base = head.rsplit("/", 1)[-1]

        def found(runner: str, argv: list[str] | tuple[str, ...]) -> list[_Found]:
            return [_Found(runner, tuple(argv), ctx.chain, ctx.cwd, tuple(env))]

        if _is_python(head):
            while args and args[0] in ("-u", "-B", "-E", "-I", "-b", "-bb", "-O", "-s", "-S"):
                args = args[1:]
            while len(args) >= 2 and args[0] in ("-W", "-X"):
                args = args[2:]
            if len(args) >= 2 and args[0] == "-m":
                return self._module(args[1], args[2:], ctx, found)
            if args and args[0].endswith(".py"):
                return self._python_script(args[0], args[1:], ctx, found)
            return []
        if base == "coverage":
            return self._coverage(args, ctx)
        runners = self.rules["test_runners"]
        if base in runners and base != "unittest":
            if runners[base] == "pytest":
                return found("pytest", ("python", "-m", "pytest", *_clean_pytest_args(args)))
            return found("custom", (head, *[a for a in args if UNRESOLVED not in a]))
        if base == "tox":
            return self._tox(args, ctx)
        if base == "nox":
            return self._nox(args, ctx)
        if base in ("make", "gmake", "$(MAKE)"):
            return self._make(args, ctx)
        if base == "just":
            return self._just(args, ctx)
        if base in ("npm", "yarn", "pnpm"):
            return self._npm(base, args, ctx)
        if base in ("bash", "sh") and args and not args[0].startswith("-"):
            return self._shell_script(args[0], ctx)
        if head.startswith("./") and head.endswith((".sh", ".bash")) or head.startswith("scripts/"):
            return self._shell_script(head, ctx)
        if head.startswith("./") and re.search(r"test", base, re.I):
            return self._shell_script(head, ctx)
        return []

    def _strip_wrappers(self, tokens: list[str]) -> list[str]:
        wrappers = {k: v for k, v in self.rules["wrappers"].items() if not k.startswith("_")}
        changed = True
        while changed and tokens:
            changed = False
            for words, value_opts in wrappers.items():
                w = words.split()
                if tokens[: len(w)] == w or (len(w) == 2 and tokens[:1] == [w[0]] and w[1] == "run"
                                             and tokens[1:2] == ["run"]):
                    rest = tokens[len(w):]
                    while rest and rest[0].startswith("-"):
                        opt = rest.pop(0)
                        if opt in value_opts and "=" not in opt and rest:
                            rest.pop(0)
                    if w[0] == "timeout" and rest and re.match(r"^\d+[smhd]?$", rest[0]):
                        rest.pop(0)
                    if w[0] == "hatch" and rest and ":" in rest[0]:  # hatch run env:script
                        rest[0] = rest[0].split(":", 1)[1]
                    tokens, changed = rest, True
                    break
        return tokens

    def _module(self, module: str, args: list[str], ctx: _Ctx, found) -> list[_Found]:
        if module in ("pytest", "py.test"):
            return found("pytest", ("python", "-m", "pytest", *_clean_pytest_args(args)))
        if module == "unittest":
            return found("unittest", ("python", "-m", "unittest", *[a for a in args if UNRESOLVED not in a and "$" not in a]))
        if module == "coverage":
            return self._coverage(args, ctx)
        if module in ("tox", "nox"):
            return self._tox(args, ctx) if module == "tox" else self._nox(args, ctx)
        if module in self.rules["test_runners"]:
            return found("custom", ("python", "-m", module, *args))
        parts = module.split(".")
        is_test_module = any(p.lower().startswith("test") for p in parts) or parts[0] in self.rules["test_dirs"]
        if is_test_module and (self.r.is_file(f"{'/'.join(parts)}.py") or self.r.is_file(f"{'/'.join(parts)}/__main__.py")):
            return found("module", ("python", "-m", module, *[a for a in args if UNRESOLVED not in a]))
        return []

    def _python_script(self, script: str, args: list[str], ctx: _Ctx, found) -> list[_Found]:
        rel = str(Path(ctx.cwd, script)) if ctx.cwd != "." else script
        if script.endswith("setup.py") and "test" in args:
            return self._setup_py_test(ctx)
        name = script.rsplit("/", 1)[-1]
        if re.search(r"test", name, re.I) and self.r.is_file(rel):
            return found("script", ("python", script, *[a for a in args if UNRESOLVED not in a]))
        return []

    def _coverage(self, args: list[str], ctx: _Ctx) -> list[_Found]:
        """`coverage run [opts] -m pytest ...` is the test run; report/combine/xml are not."""
        if not args or args[0] != "run":
            return []
        rest = args[1:]
        while rest and rest[0].startswith("-") and rest[0] != "-m":
            opt = rest.pop(0)
            if "=" not in opt and opt in ("--rcfile", "--source", "--include", "--omit", "--concurrency",
                                            "--context", "--data-file", "-p") and opt != "-p" and rest:
                rest.pop(0)
        if rest[:1] == ["-m"] and len(rest) >= 2:
            return self.interpret(["python", "-m", *rest[1:]], ctx)
        if rest:
            tail = rest[0].rsplit("/", 1)[-1]
            if tail in ("pytest", "py.test"):
                return self.interpret(["pytest", *rest[1:]], ctx)
            return self.interpret(["python", *rest], ctx)
        return []

    # -- setup.py test ---------------------------------------------------------------------------

    def _setup_py_test(self, ctx: _Ctx) -> list[_Found]:
        for f in self._setup_py_suite(ctx.chain):
            return [f]
        return []

    def _setup_py_suite(self, chain: tuple[str, ...]) -> list[_Found]:
        cfg = self._read_ini("setup.cfg")
        if cfg is not None and cfg.has_option("aliases", "test") and "pytest" in cfg.get("aliases", "test"):
            return [_Found("pytest", ("python", "-m", "pytest"), chain + ("setup.cfg [aliases] test = pytest",))]
        suite, where = None, None
        if cfg is not None and cfg.has_option("options", "test_suite"):
            suite, where = cfg.get("options", "test_suite").strip(), "setup.cfg [options] test_suite"
        text = self.r.read("setup.py")
        if suite is None and text:
            try:
                tree = ast.parse(text)
            except SyntaxError:
                self.r._skip("setup.py", "not parseable Python; test_suite not read")
                tree = None
            for node in ast.walk(tree) if tree else ():
                if isinstance(node, ast.keyword) and node.arg == "test_suite" and isinstance(node.value, ast.Constant) \
                        and isinstance(node.value.value, str):
                    suite, where = node.value.value, "setup.py test_suite="
            if "pytest-runner" in text or "pytest_runner" in text:
                return [_Found("pytest", ("python", "-m", "pytest"), chain + ("setup.py setup_requires pytest-runner",))]
        if not suite:
            return []
        path = suite.replace(".", "/")
        if self.r.is_dir(path):
            pattern = self._unittest_pattern(path)
            argv = ["python", "-m", "unittest", "discover", "-s", path]
            if self.r.is_file(f"{path}/__init__.py"):
                argv += ["-t", "."]
            if pattern != "test*.py":
                argv += ["-p", pattern]
            return [_Found("unittest", tuple(argv), chain + (f"{where} {suite!r}",))]
        return [_Found("unittest", ("python", "-m", "unittest", suite), chain + (f"{where} {suite!r}",))]

    # -- tox -------------------------------------------------------------------------------------

    def _read_ini(self, rel: str) -> configparser.RawConfigParser | None:
        text = self.r.read(rel)
        if text is None:
            return None
        cp = configparser.RawConfigParser(strict=False, interpolation=None, delimiters=("=",),
                                          comment_prefixes=("#", ";"), inline_comment_prefixes=None)
        try:
            cp.read_string(text, source=rel)
        except configparser.Error as e:
            self.r._skip(rel, f"malformed INI: {str(e).splitlines()[0]}")
            return None
        return cp

    def _read_toml(self, rel: str) -> dict | None:
        text = self.r.read(rel)
        if text is None:
            return None
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            self.r._skip(rel, f"malformed TOML: {e}")
            return None

    def _tox_config(self) -> "_Tox | None":
        ini = self._read_ini("tox.ini")
        if ini is not None and any(s == "tox" or s.startswith("testenv") for s in ini.sections()):
            return _IniTox(ini, "tox.ini")
        data = self._read_toml("tox.toml")
        if data is not None:
            return _TomlTox(data, "tox.toml")
        py = self._read_toml("pyproject.toml") or {}
        tox = py.get("tool", {}).get("tox")
        if isinstance(tox, dict):
            legacy = tox.get("legacy_tox_ini")
            if isinstance(legacy, str):
                cp = configparser.RawConfigParser(strict=False, interpolation=None, delimiters=("=",))
                try:
                    cp.read_string(legacy)
                    return _IniTox(cp, "pyproject.toml [tool.tox] legacy_tox_ini")
                except configparser.Error as e:
                    self.r._skip("pyproject.toml [tool.tox]", f"malformed legacy_tox_ini: {str(e).splitlines()[0]}")
                    return None
            return _TomlTox(tox, "pyproject.toml [tool.tox]")
        return None

    def _tox(self, args: list[str], ctx: _Ctx) -> list[_Found]:
        tox = self._tox_config()
        if tox is None:
            return []
        envs: list[str] | None = None
        factors: list[str] = []
        i = 0
        while i < len(args):
            a = args[i]
            if a in ("-e", "--env") and i + 1 < len(args):
                envs = args[i + 1].split(",")
                i += 1
            elif a.startswith("-e") and len(a) > 2 and not a.startswith("--"):
                envs = a[2:].split(",")
            elif a.startswith("--env="):
                envs = a.split("=", 1)[1].split(",")
            elif a in ("-f", "--factor") and i + 1 < len(args):
                factors += args[i + 1].split(",")
                i += 1
            elif a in ("--installpkg", "-c", "--conf", "--root", "--workdir", "-x", "--override", "-p",
                       "--parallel", "-r", "--recreate") and a not in ("-r", "--recreate") and i + 1 < len(args):
                i += 1
            i += 1
        if envs is None and ctx.tox_env:
            envs = ctx.tox_env.split(",")
        if envs is not None and all(not re.sub(UNRESOLVED + r"|\$\{?\w*\}?|[-,]", "", e) for e in envs):
            envs = None  # wholly computed at CI run time: tox's default env list is the best guess
        return tox.test_commands(self, envs, factors, ctx)

    # -- nox -------------------------------------------------------------------------------------

    def _nox(self, args: list[str], ctx: _Ctx) -> list[_Found]:
        text = self.r.read("noxfile.py")
        if text is None:
            return []
        try:
            tree = ast.parse(text)
        except SyntaxError as e:
            self.r._skip("noxfile.py", f"not parseable Python: {e.msg} (line {e.lineno})")
            return []
        sessions = _nox_sessions(tree)
        wanted: list[str] = []
        i = 0
        while i < len(args):
            if args[i] in ("-s", "--session", "--sessions", "-e") and i + 1 < len(args):
                j = i + 1
                while j < len(args) and not args[j].startswith("-"):
                    wanted.append(args[j].split("(", 1)[0].split("-", 1)[0] if "(" in args[j] else args[j])
                    j += 1
                i = j
                continue
            i += 1
        if not wanted:
            wanted = _nox_default_sessions(tree) or [s for s in self.rules["nox_test_sessions"] if s in sessions] \
                or [s for s in sessions if not _non_test_name(s, self.rules["non_test_env_factors"])]
        out: list[_Found] = []
        for name in wanted:
            name = UNRESOLVED if UNRESOLVED in name else name
            for runs in sessions.get(name, []):
                sub = ctx.deeper(f"noxfile.py session {name!r}")
                for tokens in runs:
                    out += self.interpret(tokens, sub)
        return out

    # -- make / just / npm / shell scripts ---------------------------------------------------------

    def _makefile(self) -> tuple[str, dict[str, str], dict[str, tuple[list[str], list[str]]], list[str]] | None:
        for name in ("GNUmakefile", "makefile", "Makefile"):
            text = self.r.read(name)
            if text is not None:
                return (name, *_parse_makefile(text))
        return None

    def _make(self, args: list[str], ctx: _Ctx, depth: int = 0) -> list[_Found]:
        mk = self._makefile()
        if mk is None:
            return []
        name, variables, targets, order = mk
        wanted = [a for a in args if not a.startswith("-") and "=" not in a]
        for a in args:
            if "=" in a and not a.startswith("-"):
                k, v = a.split("=", 1)
                variables = {**variables, k: v}
        if not wanted:
            wanted = order[:1]
        out: list[_Found] = []
        for target in wanted:
            out += self._make_target(name, variables, targets, target, ctx, depth)
        return out

    def _make_target(self, name, variables, targets, target, ctx: _Ctx, depth: int) -> list[_Found]:
        if target not in targets or depth > 2:
            return []
        deps, recipe = targets[target]
        sub = ctx.deeper(f"{name}:{target}")
        out: list[_Found] = []
        for line in recipe:
            line = line.lstrip("@-+ \t")
            line = _make_expand(line, variables)
            segs = _segments(line) or []
            for seg in segs:
                if seg[0] in ("make", "gmake", "$(MAKE)") or seg[0].endswith("/make"):
                    for t in [a for a in seg[1:] if not a.startswith("-") and "=" not in a]:
                        out += self._make_target(name, variables, targets, t, sub, depth + 1)
                else:
                    out += self.run_block(shlex.join(seg), sub)
        if not out:
            for dep in deps:
                out += self._make_target(name, variables, targets, dep, ctx, depth + 1)
        return out

    def _just(self, args: list[str], ctx: _Ctx) -> list[_Found]:
        for name in ("justfile", "Justfile", ".justfile"):
            text = self.r.read(name)
            if text is None:
                continue
            recipes = _parse_justfile(text)
            wanted = [a for a in args if not a.startswith("-")][:1] or list(recipes)[:1]
            out: list[_Found] = []
            for target in wanted:
                body = recipes.get(target, [])
                out += self.run_block("\n".join(ln.lstrip("@-") for ln in body if "{{" not in ln),
                                      ctx.deeper(f"{name}:{target}"))
            return out
        return []

    def _npm(self, tool: str, args: list[str], ctx: _Ctx) -> list[_Found]:
        text = self.r.read("package.json")
        if text is None:
            return []
        try:
            scripts = json.loads(text).get("scripts") or {}
        except (json.JSONDecodeError, AttributeError):
            self.r._skip("package.json", "malformed JSON")
            return []
        words = [a for a in args if not a.startswith("-")]
        if words[:1] == ["run"]:
            words = words[1:]
        script = "test" if words[:1] in (["test"], ["t"]) else (words[0] if words else "test")
        body = scripts.get(script)
        if not isinstance(body, str) or "no test specified" in body:
            return []
        sub = ctx.deeper(f"package.json scripts.{script}")
        inner = self.run_block(body, sub)
        if inner:
            return inner
        argv = ("npm", "test") if script == "test" else ("npm", "run", script)
        return [_Found("npm", argv, sub.chain, ctx.cwd)]

    def _shell_script(self, path: str, ctx: _Ctx) -> list[_Found]:
        rel = path[2:] if path.startswith("./") else path
        if ctx.cwd != ".":
            rel = f"{ctx.cwd}/{rel}"
        text = self.r.read(rel)
        if text is None:
            return []
        return self.run_block(text, ctx.deeper(rel))

    # -- CI ----------------------------------------------------------------------------------------

    def ci(self) -> list[_Found]:
        out: list[_Found] = []
        out += self._github()
        out += self._gitlab()
        out += self._travis()
        out += self._azure()
        return out

    def _yaml(self, rel: str):
        text = self.r.read(rel)
        if text is None:
            return None
        import yaml  # imported here: only CI files need it

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            self.r._skip(rel, f"malformed YAML: {str(e).splitlines()[0]}")
            return None
        if not isinstance(data, dict):
            self.r._skip(rel, "not a YAML mapping")
            return None
        return data

    def _github(self) -> list[_Found]:
        folder = ".github/workflows"
        if not self.r.is_dir(folder):
            return []
        names = [n for n in self.r.listdir(folder) if n.endswith((".yml", ".yaml"))]
        rank = self.rules["workflow_rank"]

        def key(n: str) -> tuple[int, int, str]:
            stem = n.rsplit(".", 1)[0].lower()
            if any(w in stem for w in rank["last"]) and not any(stem.startswith(w) for w in ("test", "ci")):
                return (2, 0, n)
            firsts = [i for i, w in enumerate(rank["first"]) if w in stem]
            return (0, firsts[0], n) if firsts else (1, 0, n)

        out: list[_Found] = []
        for n in sorted(names, key=key):
            out += self._github_file(f"{folder}/{n}", depth=0)
        return out

    def _github_file(self, rel: str, depth: int) -> list[_Found]:
        data = self._yaml(rel)
        if data is None or depth > 1:
            return []
        jobs = data.get("jobs")
        if not isinstance(jobs, dict):
            return []
        wf_env = _literal_env(data.get("env"))
        wf_cwd = _dig(data, "defaults", "run", "working-directory")
        words = self.rules["non_test_job_words"]

        def job_rank(item) -> int:
            jid, job = item
            label = f"{jid} {job.get('name', '') if isinstance(job, dict) else ''}".lower()
            if "test" in label:  # "Tests & Mypy" is still the test job
                return 0
            return 1 if any(re.search(rf"(^|[^a-z]){re.escape(w)}([^a-z]|$)", label) for w in words) else 0

        out: list[_Found] = []
        for jid, job in sorted(jobs.items(), key=job_rank):
            if not isinstance(job, dict):
                continue
            uses = job.get("uses")
            if isinstance(uses, str) and uses.startswith("./"):
                out += self._github_file(uses[2:], depth + 1)
                continue
            variables = {**wf_env, **_literal_env(job.get("env"))}
            job_cwd = _dig(job, "defaults", "run", "working-directory") or wf_cwd
            steps = job.get("steps")
            if not isinstance(steps, list):
                continue
            for i, step in enumerate(steps):
                if not isinstance(step, dict) or not isinstance(step.get("run"), str):
                    continue
                step_vars = {**variables, **_literal_env(step.get("env"))}
                cwd = step.get("working-directory") or job_cwd or "."
                cwd = self._join_cwd(".", str(cwd)) if isinstance(cwd, str) else None
                if cwd is None:
                    continue
                ctx = _Ctx(chain=(f"{rel}:jobs.{jid}.steps[{i}]",), variables=step_vars, cwd=cwd,
                           tox_env=_tox_env_var(step_vars))
                out += self.run_block(step["run"], ctx)
        return out

    def _gitlab(self) -> list[_Found]:
        rel = ".gitlab-ci.yml"
        data = self._yaml(rel)
        if data is None:
            return []
        reserved = {"stages", "variables", "default", "include", "workflow", "image", "services", "cache",
                    "before_script", "after_script", "pages"}
        glob_vars = _literal_env(data.get("variables"))
        jobs = [(k, v) for k, v in data.items() if k not in reserved and isinstance(v, dict)]
        jobs.sort(key=lambda kv: kv[0].startswith("."))  # hidden template jobs last
        out: list[_Found] = []
        for name, job in jobs:
            script = job.get("script")
            lines = script if isinstance(script, list) else [script] if isinstance(script, str) else []
            variables = {**glob_vars, **_literal_env(job.get("variables"))}
            for i, line in enumerate(lines):
                if isinstance(line, str):
                    ctx = _Ctx(chain=(f"{rel}:{name}.script[{i}]",), variables=variables,
                               tox_env=_tox_env_var(variables))
                    out += self.run_block(line, ctx)
        return out

    def _travis(self) -> list[_Found]:
        rel = ".travis.yml"
        data = self._yaml(rel)
        if data is None:
            return []
        places = [("script", data.get("script"))]
        for key in ("jobs", "matrix"):
            inc = _dig(data, key, "include")
            if isinstance(inc, list):
                places += [(f"{key}.include[{i}].script", j.get("script")) for i, j in enumerate(inc) if isinstance(j, dict)]
        out: list[_Found] = []
        for where, script in places:
            lines = script if isinstance(script, list) else [script] if isinstance(script, str) else []
            for i, line in enumerate(lines):
                if isinstance(line, str):
                    out += self.run_block(line, _Ctx(chain=(f"{rel}:{where}[{i}]",)))
        return out

    def _azure(self) -> list[_Found]:
        rel = next((n for n in ("azure-pipelines.yml", "azure-pipelines.yaml", ".azure-pipelines.yml")
                    if self.r.is_file(n)), None)
        data = self._yaml(rel) if rel else None
        if data is None:
            return []
        out: list[_Found] = []

        def visit(node, path: str) -> None:
            if isinstance(node, dict):
                for key in ("script", "bash"):
                    if isinstance(node.get(key), str):
                        out.extend(self.run_block(node[key], _Ctx(chain=(f"{rel}:{path}.{key}",))))
                for k, v in node.items():
                    if k in ("steps", "jobs", "stages") and isinstance(v, list):
                        for i, item in enumerate(v):
                            visit(item, f"{path}.{k}[{i}]" if path else f"{k}[{i}]")
        visit(data, "")
        return out

    # -- pytest configuration ---------------------------------------------------------------------

    def pytest_config(self) -> _PytestConfig | None:
        """The file pytest itself would take its configuration from (same precedence as pytest)."""
        for rel in ("pytest.ini", ".pytest.ini"):
            cp = self._read_ini(rel)
            if cp is not None and cp.has_section("pytest"):
                return _ini_pytest(cp, "pytest", f"{rel} [pytest]")
            if cp is not None:  # pytest uses pytest.ini even without the section
                return _PytestConfig(f"{rel}", (), (), (), frozenset(), ())
        py = self._read_toml("pyproject.toml")
        tool = (py or {}).get("tool", {})
        pt = tool.get("pytest") if isinstance(tool, dict) else None
        if isinstance(pt, dict):
            if isinstance(pt.get("ini_options"), dict):
                return _toml_pytest(pt["ini_options"], "pyproject.toml [tool.pytest.ini_options]")
            return _toml_pytest(pt, "pyproject.toml [tool.pytest]")
        cp = self._read_ini("tox.ini")
        if cp is not None and cp.has_section("pytest"):
            return _ini_pytest(cp, "pytest", "tox.ini [pytest]")
        cp = self._read_ini("setup.cfg")
        if cp is not None and cp.has_section("tool:pytest"):
            return _ini_pytest(cp, "tool:pytest", "setup.cfg [tool:pytest]")
        return None

    # -- build tools without CI -------------------------------------------------------------------

    def tox_nox(self) -> list[_Found]:
        return self._tox([], _Ctx(chain=())) + self._nox([], _Ctx(chain=()))

    def targets(self) -> list[_Found]:
        out: list[_Found] = []
        mk = self._makefile()
        if mk is not None:
            for t in self.rules["make_test_targets"]:
                if t in mk[2]:
                    out += self._make([t], _Ctx(chain=()))
                    if out:
                        break
        for name in ("justfile", "Justfile", ".justfile"):
            if self.r.is_file(name):
                recipes = _parse_justfile(self.r.read(name) or "")
                for t in self.rules["script_test_targets"]:
                    if t in recipes:
                        out += self._just([t], _Ctx(chain=()))
                        break
        if self.r.is_file("package.json"):
            out += self._npm("npm", ["test"], _Ctx(chain=()))
        return out

    # -- unittest layouts -------------------------------------------------------------------------

    def _test_dir(self) -> str | None:
        return next((d for d in self.rules["test_dirs"] if self.r.is_dir(d)), None)

    def _unittest_pattern(self, folder: str) -> str:
        """'*.py' when TestCases live in files unittest's default pattern (test*.py) would not load."""
        for rel in self.r.walk_py(folder):
            name = rel.rsplit("/", 1)[-1]
            if name.startswith("test") or name == "__init__.py":
                continue
            text = self.r.read(rel) or ""
            if re.search(r"^class \w+\([\w.]*TestCase\)", text, re.M):
                return "*.py"
        return "test*.py"

    def unittest_layout(self) -> list[_Found]:
        out: list[_Found] = []
        tdir = self._test_dir()
        if tdir:
            for mod in self.rules["aggregator_modules"]:
                rel = f"{tdir}/{mod}.py"
                text = self.r.read(rel) if self.r.is_file(rel) else None
                if text and re.search(r"unittest|TestSuite|TestLoader|\bsuite\b|pytest\.main", text):
                    module = tdir if mod == "__main__" else f"{tdir}.{mod}"
                    out.append(_Found("module", ("python", "-m", module), (f"{rel} (test aggregator module)",)))
                    break
        for script in ("runtests.py", "run_tests.py", "tests.py", "test.py"):
            text = self.r.read(script) if self.r.is_file(script) else None
            if text and re.search(r"unittest|pytest|TestSuite|TestLoader", text):
                out.append(_Found("script", ("python", script), (f"{script} (test runner script)",)))
                break
        out += self._setup_py_suite(())
        if tdir and not self._pytest_style(tdir):
            pattern = self._unittest_pattern(tdir)
            has_cases = pattern == "*.py" or any(
                re.search(r"TestCase\)", self.r.read(f) or "") for f in self.r.walk_py(tdir, 50))
            if has_cases:
                argv = ["python", "-m", "unittest", "discover", "-s", tdir]
                if self.r.is_file(f"{tdir}/__init__.py"):
                    argv += ["-t", "."]
                if pattern != "test*.py":
                    argv += ["-p", pattern]
                why = "unittest TestCases in files not named test*.py" if pattern == "*.py" else "unittest TestCases"
                out.append(_Found("unittest", tuple(argv), (f"{tdir}/ ({why})",)))
        return out

    def _pytest_style(self, tdir: str) -> bool:
        if self.r.is_file("conftest.py") or self.r.is_file(f"{tdir}/conftest.py"):
            return True
        for rel in self.r.walk_py(tdir, 200):
            text = self.r.read(rel) or ""
            if re.search(r"^\s*import pytest|^from pytest|^def test_\w*\(", text, re.M):
                return True
        return False

    def pytest_style_tests(self) -> list[_Found]:
        tdir = self._test_dir()
        if tdir and self._pytest_style(tdir):
            return [_Found("pytest", ("python", "-m", "pytest"), (f"{tdir}/ (pytest-style tests)",))]
        return []

    # -- README ------------------------------------------------------------------------------------

    def readme(self) -> list[_Found]:
        out: list[_Found] = []
        for rel in self.rules["readme_files"]:
            text = self.r.read(rel) if self.r.is_file(rel) else None
            if not text:
                continue
            for title, body in _doc_sections(text):
                words = set(re.findall(r"[a-z]+", title.lower()))
                if not words & set(self.rules["readme_heading_words"]):
                    continue
                for line in _code_lines(body):
                    out += self.run_block(line, _Ctx(chain=(f"{rel} section {title!r}",)))
                if out:
                    return out
        return out


# ------------------------------------------------------------------------------------------ tox models


def _brace_expand(s: str) -> list[str]:
    m = re.search(r"\{([^{}]*)\}", s)
    if not m:
        return [s]
    alts: list[str] = []
    for alt in m.group(1).split(","):
        alt = alt.strip()
        r = re.fullmatch(r"(\d+)-(\d+)", alt)
        alts += [str(n) for n in range(int(r.group(1)), int(r.group(2)) + 1)] if r else [alt]
    return [x for alt in alts for x in _brace_expand(s[: m.start()] + alt + s[m.end():])]


def _split_envlist(value: str) -> list[str]:
    items, depth, cur = [], 0, ""
    for ch in value:
        depth += ch == "{"
        depth -= ch == "}"
        if ch in ",\n" and depth == 0:
            items.append(cur)
            cur = ""
        else:
            cur += ch
    items.append(cur)
    out: list[str] = []
    for it in items:
        it = it.split("#", 1)[0].strip()
        if it:
            out += _brace_expand(it)
    return out


def _non_test_name(name: str, non_test: list[str]) -> bool:
    return any(f.lower() in non_test for f in re.split(r"[-_]", name)) or name.lower() in non_test


def _factor_match(cond: str, factors: set[str], wildcard: bool) -> bool:
    """tox factor conditions: 'a,b' = any, 'a-b' = all, '!a' = not."""
    for alt in cond.split(","):
        ok = True
        for f in alt.strip().split("-"):
            neg = f.startswith("!")
            f = f.lstrip("!")
            hit = f in factors
            ok &= (not hit) if neg else hit
        if ok:
            return True
    return False


class _Tox:
    source: str
    envlist: list[str]

    def env_commands(self, env: str, factors: set[str], wildcard: bool) -> tuple[list[str], dict[str, str], str]:
        raise NotImplementedError

    def test_commands(self, d: _Discoverer, envs: list[str] | None, factors: list[str], ctx: _Ctx) -> list[_Found]:
        non_test = d.rules["non_test_env_factors"]
        if envs is None:
            names = self.envlist or ["py"]
            if factors:
                names = [n for n in names if set(factors) <= set(n.split("-"))]
        else:
            names = []
            for e in envs:
                if UNRESOLVED in e or "$" in e:  # known factors only, e.g. $PYTHON-tests -> tests
                    known = [f for f in e.split("-") if f and UNRESOLVED not in f and "$" not in f]
                    match = [n for n in self.envlist if set(known) <= set(n.split("-"))]
                    names += match[:1] if known and match else ["-".join([UNRESOLVED, *known])]
                else:
                    names.append(e)
        out: list[_Found] = []
        for name in names:
            if name.startswith("-") or _non_test_name(name.replace(UNRESOLVED, ""), non_test):
                continue
            fs = {f for f in name.split("-") if f and f != UNRESOLVED}
            lines, setenv, where = self.env_commands(name, fs, UNRESOLVED in name)
            shown = name.replace(UNRESOLVED, "*")
            sub = ctx.deeper(f"{where} commands (env {shown})")
            sub.variables = {**ctx.variables, **setenv}
            for line in lines:
                found = d.run_block(_tox_subst(line, setenv), sub)
                env = tuple((k, v) for k, v in setenv.items() if "{" not in v and not k.startswith("_")
                            and not k.startswith(("COVERAGE", "PIP_", "UV_")))
                out += [_Found(f.runner, f.argv, f.chain, f.cwd, tuple(dict(f.env + env).items())) for f in found]
            if out and envs is None:
                break
        return out


class _IniTox(_Tox):
    def __init__(self, cp: configparser.RawConfigParser, source: str):
        self.cp, self.source = cp, source
        raw = ""
        for key in ("envlist", "env_list"):
            if cp.has_option("tox", key):
                raw = cp.get("tox", key)
        self.envlist = _split_envlist(raw)

    def _section_for(self, env: str) -> str | None:
        if self.cp.has_section(f"testenv:{env}"):
            return f"testenv:{env}"
        for s in self.cp.sections():
            if s.startswith("testenv:") and env in _brace_expand(s.split(":", 1)[1]):
                return s
        return None

    def _value(self, section: str | None, key: str) -> tuple[str, str]:
        for s in (section, "testenv"):
            if s and self.cp.has_option(s, key):
                return self.cp.get(s, key), s
        return "", section or "testenv"

    def _filtered(self, value: str, factors: set[str], wildcard: bool) -> list[str]:
        value = re.sub(r"\{\[([^\]]+)\](\w+)\}",
                       lambda m: self.cp.get(m.group(1), m.group(2)) if self.cp.has_option(m.group(1), m.group(2)) else "",
                       value)
        out = []
        for line in _script_lines(value):
            m = re.match(r"^([!\w.,-]+):\s+(.*)$", line)
            if m and not m.group(1).startswith("{"):
                if _factor_match(m.group(1), factors, wildcard):
                    out.append(m.group(2))
            else:
                out.append(line)
        return out

    def env_commands(self, env, factors, wildcard):
        section = None if UNRESOLVED in env else self._section_for(env)
        commands, where = self._value(section, "commands")
        setenv: dict[str, str] = {}
        for s in ("testenv", section):
            if s and self.cp.has_option(s, "setenv"):
                for line in self._filtered(self.cp.get(s, "setenv"), factors, wildcard):
                    if "=" in line:
                        k, v = line.split("=", 1)
                        setenv[k.strip()] = v.strip()
        return self._filtered(commands, factors, wildcard), setenv, f"{self.source} [{where}]"


class _TomlTox(_Tox):
    def __init__(self, data: dict, source: str):
        self.data, self.source = data, source
        raw = data.get("env_list") or data.get("envlist") or []
        self.envlist = [e for item in raw if isinstance(item, str) for e in _brace_expand(item)]

    def env_commands(self, env, factors, wildcard):
        envs = self.data.get("env") if isinstance(self.data.get("env"), dict) else {}
        base = self.data.get("env_run_base") if isinstance(self.data.get("env_run_base"), dict) else {}
        own = envs.get(env) if isinstance(envs.get(env), dict) else {}
        conf, where = (own, f"env.{env}") if "commands" in own else (base, "env_run_base")
        setenv = {**_str_map(base.get("set_env")), **_str_map(own.get("set_env"))}
        lines = []
        for cmd in conf.get("commands") or []:
            if not isinstance(cmd, list):
                continue
            words: list[str] = []
            for part in cmd:
                if isinstance(part, str):
                    words.append(part)
                elif isinstance(part, dict) and part.get("replace") == "posargs":
                    words += [str(x) for x in part.get("default") or []]
                elif isinstance(part, dict) and part.get("replace") == "env":
                    val = setenv.get(str(part.get("name")), part.get("default") or "")
                    words += val if isinstance(val, list) else [str(val)] if val else []
            lines.append(shlex.join(words))
        return lines, setenv, f"{self.source.rstrip(']')}.{where}]" if self.source.endswith("]") else f"{self.source} [{where}]"


def _str_map(v) -> dict[str, str]:
    return {str(k): str(x) for k, x in v.items() if isinstance(x, (str, int, float))} if isinstance(v, dict) else {}


# ------------------------------------------------------------------------------------ other parsers


def _nox_sessions(tree: ast.Module) -> dict[str, list[list[list[str]]]]:
    """session name -> its functions' session.run(...) argument lists, in source order."""
    module_lists = _list_assignments(tree.body)
    sessions: dict[str, list[list[list[str]]]] = {}
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef):
            continue
        name = None
        for dec in node.decorator_list:
            target = dec.func if isinstance(dec, ast.Call) else dec
            dotted = ast.unparse(target)
            if dotted in ("nox.session", "session", "nox_session"):
                name = node.name
                if isinstance(dec, ast.Call):
                    for kw in dec.keywords:
                        if kw.arg == "name" and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str):
                            name = kw.value.value
        if name is None:
            continue
        local = {**module_lists, **_list_assignments(ast.walk(node))}
        calls = [n for n in ast.walk(node) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                 and n.func.attr == "run" and isinstance(n.func.value, ast.Name)]
        runs = []
        for call in sorted(calls, key=lambda c: (c.lineno, c.col_offset)):
            words: list[str] = []
            for arg in call.args:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    words.append(arg.value)
                elif isinstance(arg, ast.Starred) and isinstance(arg.value, ast.Name) and arg.value.id in local:
                    words += local[arg.value.id]
                elif isinstance(arg, ast.Starred) and ast.unparse(arg.value).endswith("posargs"):
                    continue
                else:
                    words.append(UNRESOLVED)
            runs.append(words)
        sessions.setdefault(name, []).append(runs)
    return sessions


def _list_assignments(nodes) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for n in nodes:
        if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name) \
                and isinstance(n.value, (ast.List, ast.Tuple)) \
                and all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in n.value.elts):
            out[n.targets[0].id] = [e.value for e in n.value.elts]
    return out


def _nox_default_sessions(tree: ast.Module) -> list[str]:
    for n in tree.body:
        if isinstance(n, ast.Assign) and len(n.targets) == 1 and ast.unparse(n.targets[0]) == "nox.options.sessions" \
                and isinstance(n.value, (ast.List, ast.Tuple)):
            return [e.value for e in n.value.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    return []


def _parse_makefile(text: str) -> tuple[dict[str, str], dict[str, tuple[list[str], list[str]]], list[str]]:
    variables: dict[str, str] = {}
    targets: dict[str, tuple[list[str], list[str]]] = {}
    order: list[str] = []
    current: list[str] = []
    for raw in re.sub(r"\\\n", " ", text).splitlines():
        if raw.startswith("\t"):
            for t in current:
                targets[t][1].append(raw.strip())
            continue
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        m = re.match(r"^(?:export\s+|override\s+)?([A-Za-z_][\w.]*)\s*(?:[:?+!]?=|::=)\s*(.*)$", line)
        if m:
            variables.setdefault(m.group(1), m.group(2).strip())
            current = []
            continue
        m = re.match(r"^([^\s:=#][^:=]*?)\s*::?(?!=)\s*(.*)$", line)
        if m:
            names = m.group(1).split()
            rest = m.group(2)
            deps, inline = (rest.split(";", 1) + [""])[:2]
            current = [n for n in names if not n.startswith(".") and "%" not in n]
            for n in current:
                if n not in targets:
                    targets[n] = ([], [])
                    order.append(n)
                targets[n][0].extend(d for d in deps.split() if "$" not in d)
                if inline.strip():
                    targets[n][1].append(inline.strip())
            continue
        current = []
    return variables, targets, order


def _make_expand(line: str, variables: dict[str, str], depth: int = 0) -> str:
    def repl(m: re.Match) -> str:
        name = m.group(1) or m.group(2)
        if name == "MAKE":
            return "make"
        if name in ("PYTHON", "PY") and name not in variables:
            return "python"
        val = variables.get(name, "")  # make: an undefined variable is empty
        return _make_expand(val, variables, depth + 1) if depth < 5 else val
    line = line.replace("$$", "\x01")
    line = re.sub(r"\$\((\w+)\)|\$\{(\w+)\}", repl, line)
    return line.replace("\x01", "$")


def _parse_justfile(text: str) -> dict[str, list[str]]:
    recipes: dict[str, list[str]] = {}
    current = None
    for raw in text.splitlines():
        if raw.startswith((" ", "\t")) and current is not None:
            if raw.strip():
                recipes[current].append(raw.strip())
            continue
        m = re.match(r"^@?([\w-]+)[^:=]*:(?!=)", raw)
        current = m.group(1) if m else None
        if current:
            recipes.setdefault(current, [])
    return recipes


def _doc_sections(text: str) -> list[tuple[str, str]]:
    lines = text.splitlines()
    heads: list[tuple[int, str]] = []
    for i, ln in enumerate(lines):
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*$", ln)
        if m:
            heads.append((i, m.group(1)))
        elif i + 1 < len(lines) and ln.strip() and re.fullmatch(r"([=\-~^\"'`#*+])\1{2,}", lines[i + 1].strip()) \
                and len(lines[i + 1].strip()) >= len(ln.strip()) - 1 and not re.fullmatch(r"[=\-~^\"'`#*+]+", ln.strip()):
            heads.append((i, ln.strip()))
    out = []
    for k, (i, title) in enumerate(heads):
        end = heads[k + 1][0] if k + 1 < len(heads) else len(lines)
        out.append((title, "\n".join(lines[i + 1:end])))
    return out


def _code_lines(body: str) -> list[str]:
    """Command lines shown in a doc section: fenced or indented code, `$ ` prompts."""
    out: list[str] = []
    fenced = False
    for ln in body.splitlines():
        s = ln.strip()
        if s.startswith("```") or s.startswith("~~~"):
            fenced = not fenced
            continue
        if fenced or ln.startswith(("    ", "\t")) or s.startswith("$ "):
            s = s[2:] if s.startswith("$ ") else s
            if s and not s.startswith((".. ", ":")):
                out.append(s)
    return out


def _ini_pytest(cp: configparser.RawConfigParser, section: str, where: str) -> _PytestConfig:
    def get(key: str) -> str:
        return cp.get(section, key) if cp.has_option(section, key) else ""
    try:
        addopts = tuple(shlex.split(get("addopts"), comments=True))
    except ValueError:
        addopts = tuple(get("addopts").split())
    markers = tuple(m.split(":", 1)[0].strip() for m in get("markers").splitlines() if m.strip())
    return _PytestConfig(where, addopts, tuple(get("testpaths").split()), markers,
                         frozenset(cp.options(section)), tuple(get("required_plugins").split()))


def _toml_pytest(conf: dict, where: str) -> _PytestConfig:
    def words(v) -> tuple[str, ...]:
        if isinstance(v, list):
            return tuple(str(x) for x in v)
        if isinstance(v, str):
            try:
                return tuple(shlex.split(v))
            except ValueError:
                return tuple(v.split())
        return ()
    markers = tuple(str(m).split(":", 1)[0].strip() for m in conf.get("markers") or [] if isinstance(m, str))
    return _PytestConfig(where, words(conf.get("addopts")), words(conf.get("testpaths")), markers,
                         frozenset(conf), words(conf.get("required_plugins")))


def _literal_env(v) -> dict[str, str]:
    """CI env mappings; values computed at run time (${{ }}) are kept as unresolved."""
    if not isinstance(v, dict):
        return {}
    return {str(k): (UNRESOLVED if "${{" in str(x) else str(x)) for k, x in v.items() if isinstance(x, (str, int, float, bool))}


def _tox_env_var(variables: dict[str, str]) -> str | None:
    for key in ("TOX_ENV", "TOXENV"):
        if key in variables:
            val = variables[key]
            return val if val else None
    return None


def _dig(d, *keys):
    for k in keys:
        if not isinstance(d, dict):
            return None
        d = d.get(k)
    return d


def plugins_needed(argv: tuple[str, ...], config: _PytestConfig | None) -> tuple[str, ...]:
    """pytest plugins implied by the command's options, the config's addopts, ini keys and required_plugins."""
    table, rules = _plugin_table(), _rules()
    options = {**{k: v for k, v in table["options"].items()}, **rules["extra_plugin_options"]}
    ini_keys = table["ini_keys"]
    words = list(argv) + list(config.addopts if config else ())
    found: list[str] = []
    for i, w in enumerate(words):
        if w == "-p" and i + 1 < len(words):
            dist = rules["pytest_p_plugins"].get(words[i + 1])
            if dist:
                found.append(dist)
        for opt, dist in options.items():
            if not dist or " " in opt:
                continue
            short = len(opt) == 2 and not opt.startswith("--")
            if w == opt or w.startswith(opt + "=") or (short and w.startswith(opt) and len(w) > 2 and w[2] != "-"):
                found.append(dist)
    if config:
        for key in config.keys:
            dist = ini_keys.get(key)
            if dist:
                found.append(dist)
        for req in config.required_plugins:
            found.append(re.split(r"[<>=!~ ;\[]", req, 1)[0])
    return tuple(dict.fromkeys(found))


# ------------------------------------------------------------------------------------------ the API


_LEVELS = (
    ("ci", "CI runs it"),
    ("tox_nox", "the project's tox/nox test environment runs it (no CI test step found)"),
    ("targets", "the project's test target runs it (no CI, tox or nox test command found)"),
    ("pytest_cfg", "the project configures pytest (no test command found in CI, tox, nox or build targets)"),
    ("unittest_layout", "the test layout calls for it (no CI, tool, target or pytest configuration found)"),
    ("pytest_style_tests", "the tests are written for pytest (nothing more specific found)"),
    ("readme", "the project's documentation says to run it (nothing more specific found)"),
)


def discover_test_command(repo: Path) -> TestCommand:
    """The repository's test command of record, with where it came from and why it was chosen."""
    repo = Path(repo)
    if not repo.is_dir():
        raise R2EError(f"not a repository folder: {repo}")
    d = _Discoverer(repo)
    config = d.pytest_config()
    levels: list[tuple[str, list[_Found]]] = []
    for name, why in _LEVELS:
        if name == "pytest_cfg":
            found = [_Found("pytest", ("python", "-m", "pytest"), (config.file,))] if config else []
        else:
            found = getattr(d, name)()
        levels.append((why, _dedupe(found)))
    candidates = tuple(Candidate(f.runner, f.command(), " -> ".join(f.chain), why) for why, fs in levels for f in fs)
    chosen, why = next(((fs[0], w) for w, fs in levels if fs), (None, None))
    if chosen is None:
        chosen = _Found("pytest", ("python", "-m", "pytest"), ("default",))
        why = "no test command found in CI, tox, nox, targets, configuration, test layout or README; pytest's default"
    source = " -> ".join(chosen.chain)
    reason = f"{source}: {why}"
    if len(chosen.chain) > 1:
        reason += f" (followed {' -> '.join(chosen.chain[1:])})"
    is_pytest = chosen.runner == "pytest"
    if is_pytest and config is not None and config.file not in chosen.chain:
        reason += f"; pytest also reads {config.file}"
    return TestCommand(
        runner=chosen.runner, command=chosen.command(), argv=chosen.argv, source=source, reason=reason,
        cwd=chosen.cwd, env=chosen.env,
        pytest_config=config.file if is_pytest and config else None,
        pytest_addopts=config.addopts if is_pytest and config else (),
        testpaths=config.testpaths if is_pytest and config else (),
        markers=config.markers if is_pytest and config else (),
        plugins_needed=plugins_needed(chosen.argv, config) if is_pytest else (),
        candidates=candidates, skipped=tuple(d.r.skipped))


def _dedupe(found: list[_Found]) -> list[_Found]:
    seen, out = set(), []
    for f in found:
        key = (f.argv, f.chain, f.cwd)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out
