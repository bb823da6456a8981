"""`r2e tasks mine`: bug-fix tasks from a repository's git history, validated in its environment of record.

A commit C (one parent P) that changes non-test code is a candidate. Its test-file changes are the
hidden tests (`test_patch`), its other changes the gold `patch`. In the repository's environment (built
at HEAD) the tree is switched file by file:
  before = P's tree with C's test files   (what an agent starts from, tests applied)
  after  = C's tree                        (the gold fix applied)
F2P = tests passing after and failing before (both of two runs); P2P = passing in all three; a test
that flips between the two `before` runs is flaky; F2P alone runs `runs - 1` more times after, and
must pass every time. The HEAD tree is always put back. A commit whose dependency files differ from
HEAD's would need another environment: it is rejected (deps_changed), never run in the wrong one.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from harness.tasks.mutate import _parser
from harness.tasks.runs import run_tests, with_budget
from harness.tasks.validate import Outcome, read_file, split_by_bug, write_file
from installers.environment import Environment
from installers.eval_run import EvalScript
from installers.sandbox.r2e_report_io import PASSED, SKIPPED
from r2e.errors import R2EError

# Files that declare dependencies (read, never run, by installers/declared.py).
DEPENDENCY_FILES = re.compile(r"^(setup\.py|setup\.cfg|pyproject\.toml|requirements[^/]*\.(txt|in)|requirements/[^/]+|"
                              r"Pipfile|environment\.ya?ml|tox\.ini)$")
_TEST_PATH = re.compile(r"(^|/)(tests?|testing)/|(^|/)test_[^/]*\.py$|_tests?\.py$|(^|/)conftest\.py$")


def is_test_path(path: str) -> bool:
    return bool(_TEST_PATH.search(path))


@dataclass(frozen=True)
class Commit:
    sha: str
    parent: str
    date: str
    subject: str
    code_paths: tuple[str, ...]  # non-test files C changes
    test_paths: tuple[str, ...]  # test files C changes


def git(repo: Path, *args: str, timeout: float = 120) -> str:
    res = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=timeout,
                         errors="replace")
    if res.returncode != 0:
        raise R2EError(f"git {' '.join(args[:2])} failed in {repo}: {res.stderr.strip()[:200]}")
    return res.stdout


def show(repo: Path, commit: str, path: str) -> str | None:
    """`path` as it is at `commit` (None: absent there, or not text)."""
    res = subprocess.run(["git", "-C", str(repo), "show", f"{commit}:{path}"], capture_output=True, timeout=120)
    if res.returncode != 0:
        return None
    try:
        return res.stdout.decode("utf-8")
    except UnicodeDecodeError:
        return None


def changed(repo: Path, a: str, b: str) -> list[str]:
    return [p for p in git(repo, "diff", "--no-renames", "--name-only", a, b).splitlines() if p]


def commits(repo: Path, head: str, max_commits: int, since: str | None) -> list[Commit]:
    """Recent first-parent, non-merge commits of HEAD's history that change non-test files."""
    args = ["log", "--first-parent", "--no-merges", "--format=%H %P%x09%cI%x09%s", f"-n{max_commits}"]
    if since:
        args.append(f"--since={since}")
    out = []
    for line in git(repo, *args, head).splitlines():
        shas, date, subject = (line.split("\t", 2) + ["", ""])[:3]
        parts = shas.split()
        if len(parts) != 2:
            continue  # the root commit has nothing to compare with
        sha, parent = parts
        paths = changed(repo, parent, sha)
        code = tuple(p for p in paths if not is_test_path(p))
        tests = tuple(p for p in paths if is_test_path(p))
        out.append(Commit(sha, parent, date, subject, code, tests))
    return out


def declared_dependencies(repo: Path, commit: str) -> tuple[str, ...]:
    """The requirements (runtime and test) the tree at `commit` declares, as the build reads them."""
    import tempfile

    from installers.declared import read_declared

    paths = [p for p in git(repo, "ls-tree", "-r", "--name-only", commit).splitlines() if DEPENDENCY_FILES.match(p)]
    with tempfile.TemporaryDirectory() as tmp:
        for path in paths:
            text = show(repo, commit, path)
            if text is not None:
                target = Path(tmp) / path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
        declared = read_declared(Path(tmp))
    return tuple(sorted(set(declared.requirements) | set(declared.test_requirements)))


def diff(repo: Path, a: str, b: str, paths: tuple[str, ...]) -> str:
    if not paths:
        return ""
    return git(repo, "diff", "--no-renames", "--no-color", "--no-ext-diff", a, b, "--", *paths)


def tree_state(repo: Path, head: str, commit: Commit) -> tuple[dict, dict, dict]:
    """(before, after, head) as {path: text or None} over every path that differs between them."""
    paths = sorted(set(changed(repo, head, commit.parent)) | set(changed(repo, head, commit.sha)))
    tests = set(commit.test_paths)
    before, after, clean = {}, {}, {}
    for path in paths:
        clean[path] = show(repo, head, path)
        after[path] = show(repo, commit.sha, path)
        before[path] = after[path] if path in tests else show(repo, commit.parent, path)
    return before, after, clean


def set_tree(env: Environment, files: dict[str, str | None]) -> None:
    for path, text in files.items():
        if text is None:
            env.execute(f"rm -f -- {shlex.quote(f'{env.workdir}/{path}')}", cwd="/", timeout=60)
        else:
            write_file(env, path, text)


def tree_is(env: Environment, files: dict[str, str | None]) -> bool:
    return all(read_file(env, path) == text for path, text in files.items())


def validate_commit(env: Environment, script: EvalScript, before: dict, after: dict, clean: dict, *, runs: int,
                    budget: float) -> Outcome:
    out = Outcome()
    bounded = with_budget(script, budget)
    try:
        set_tree(env, after)
        gold, _ = run_tests(env, bounded)
        out.note("gold", gold)
        if gold.timed_out:
            return out.reject("timeout", f"the suite with the fix ran over {bounded.eval_timeout:.0f}s")
        set_tree(env, before)
        first, _ = run_tests(env, bounded)
        out.note("bug", first)
        if first.timed_out:
            return out.reject("timeout", f"the suite before the fix ran over {bounded.eval_timeout:.0f}s")
        f2p, p2p = split_by_bug(sorted(t for t, s in gold.tests.items() if s == PASSED), first)
        if not f2p:
            return out.reject("no_failing_test")
        if not p2p:
            return out.reject("no_passing_test", f"{len(f2p)} failing, none passing")
        second, out.messages = run_tests(env, bounded, messages=True)
        out.note("bug", second)
        if second.timed_out:
            return out.reject("timeout", f"the suite before the fix ran over {bounded.eval_timeout:.0f}s")
        out.flaky = sorted({t for t in f2p if second.tests.get(t) in (PASSED, SKIPPED)}
                           | {t for t in p2p if second.tests.get(t) != PASSED})
        f2p = [t for t in f2p if t not in out.flaky]
        p2p = [t for t in p2p if t not in out.flaky]
        if not f2p:
            return out.reject("flaky", "every failing test passed when run again before the fix")
        if not p2p:
            return out.reject("no_passing_test", "the passing tests were flaky")
        set_tree(env, after)
        again = []
        for _ in range(max(0, runs - 1)):
            run, _ = run_tests(env, script, f2p)
            out.note("gold", run)
            if run.timed_out:
                return out.reject("timeout", "the F2P tests with the fix ran over the budget")
            again.append(run)
        sometimes = [t for t in f2p if any(r.tests.get(t) != PASSED for r in again)]
        out.flaky = sorted(set(out.flaky) | set(sometimes))
        f2p = [t for t in f2p if t not in sometimes]
        if not f2p:
            return out.reject("flaky", "the F2P tests did not pass every run with the fix")
        out.fail_to_pass, out.pass_to_pass, out.valid = f2p, p2p, True
        return out
    finally:
        set_tree(env, clean)
        if not tree_is(env, clean):
            raise R2EError(f"could not put HEAD's files back in {env.workdir}: stopping this repository")


def changed_functions(text: str, patch: str, path: str) -> list[tuple[str, str, str]]:
    """(name, signature line, docstring) of each function of `text` (the fixed file) that `patch` touches."""
    lines = _new_lines(patch, path)
    if not lines:
        return []
    tree = _parser().parse(text.encode("utf-8"))
    found = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type == "function_definition":
            first, last = node.start_point[0] + 1, node.end_point[0] + 1
            if any(first <= n <= last for n in lines):
                name = node.child_by_field_name("name").text.decode("utf-8", "replace")
                end = (node.child_by_field_name("return_type") or node.child_by_field_name("parameters")).end_byte
                header = text.encode("utf-8")[node.start_byte:end]  # no trailing `:` or comment
                signature = " ".join(header.decode("utf-8", "replace").split())
                body = node.child_by_field_name("body")
                doc = ""
                first_stmt = body.named_children[0] if body.named_children else None
                if first_stmt is not None and first_stmt.type == "expression_statement" and \
                        first_stmt.named_children and first_stmt.named_children[0].type == "string":
                    doc = first_stmt.named_children[0].text.decode("utf-8", "replace").strip("\"' \n")
                found.append((name, signature, doc))
                continue  # the outermost function names the API
        stack.extend(node.children)
    return found


def _new_lines(patch: str, path: str) -> set[int]:
    """Line numbers, in the new file, of the hunks of `path` in `patch`."""
    lines, current, number = set(), None, 0
    for line in patch.splitlines():
        if line.startswith("+++ "):
            current = line[6:] if line.startswith("+++ b/") else None
        elif line.startswith("@@") and current == path:
            m = re.match(r"@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@", line)
            if m:
                number = int(m.group(1))
                lines.update(range(number, number + max(1, int(m.group(2) or 1))))
    return lines


def history_statement(apis: list[tuple[str, str, str]], seen: list[str], n_failing: int, module_paths) -> str:
    """The offline statement of a mined task: the changed public API and the failing tests' messages."""
    names = ", ".join(f"`{n}`" for n, _, _ in apis[:3]) or "the code in " + ", ".join(
        f"`{PurePosixPath(p).stem}`" for p in module_paths[:3])
    lines = [f"{names} does not behave as expected", ""]
    for name, signature, doc in apis[:3]:
        lines.append(f"`{signature}`" + (":" if doc else ""))
        lines += [f"> {d}" if d else ">" for d in doc.splitlines()] if doc else []
        lines.append("")
    if seen:
        lines.append("Using it fails like this:")
        lines += [f"- {m}" for m in seen]
    else:
        lines.append(f"{n_failing} check(s) of its behaviour fail.")
    return "\n".join(lines).rstrip() + "\n"

