"""Grade a patch the way it cannot be gamed: in a FRESH environment from the pristine image.

1. the workdir is put at the instance's base (its commit, then its setup patch: a mutation's bug);
2. the model's patch goes in without its edits to test files (files the hidden tests touch, and test files
   by path pattern), so the agent cannot weaken or replace the tests it is judged by;
3. the hidden tests (`test_patch`) go in, and the eval script runs: the instance's own `eval_script`, or
   R2E's /run_tests.sh given the F2P and P2P ids (its per-test report is read, never the log), or, with
   neither, `pytest -rA` on the test files the ids name;
4. the per-test map decides: SWE-bench semantics (every F2P and every P2P passes; skipped is not passed;
   an empty map fails) or, for R2E-Gym rows, R2E-Gym's rule (the map equals `expected_output_json`).
"""

from __future__ import annotations

import json
import re
import shlex
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from harness.agents.dataset import R2E_RUN_TESTS, AgentInstance
from installers.environment import Environment

PASSING = ("PASSED", "XFAIL")
STATUS_WORDS = ("PASSED", "FAILED", "SKIPPED", "ERROR", "XFAIL", "XPASS")
SETUP_TIMEOUT = 120
# SWE-bench eval scripts print these around the test command: only what is between them is parsed.
START_MARK, END_MARK = ">>>>> Start Test Output", ">>>>> End Test Output"
_SUMMARY = re.compile(r"^=+ short test summary info =+\s*$")
_RULE = re.compile(r"^=+ .* =+\s*$")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# `testing/` is left out on purpose: numpy.testing and friends are source code.
_TEST_PATH = re.compile(r"(^|/)tests?/|(^|/)test_[^/]*\.py$|_tests?\.py$|(^|/)conftest\.py$")
_VERBOSE = re.compile(r"^(\S+::\S.*?) (PASSED|FAILED|SKIPPED|ERROR|XFAIL|XPASS)(?:\s+\[\s*\d+%\])?$")
_DIFF_HEADER = re.compile(r"^diff --git a/(\S+) b/(\S+)$", re.MULTILINE)


@dataclass(frozen=True)
class Grade:
    instance_id: str
    reward: float
    resolved: bool
    reason: str  # resolved | patch_apply_failed | test_patch_failed | eval_timeout | empty_map | tests_failed | ...
    tests: dict[str, str] = field(default_factory=dict)  # the per-test map (id -> PASSED|FAILED|...)
    f2p: dict = field(default_factory=dict)  # {"success": [...], "failure": [...]}
    p2p: dict = field(default_factory=dict)
    method: str = ""  # report (R2E's per-test report) | log (pytest -rA lines) | expected (R2E-Gym's rule)
    log: str = ""
    exit_code: int | None = None
    timed_out: bool = False
    duration: float = 0.0
    patch_applied: bool = False
    reverted_test_files: tuple[str, ...] = ()
    patch_exists: bool = False

    def report(self) -> dict:
        """SWE-bench's report.json shape ({instance_id: {...}}), with R2E's extras under the same key."""
        return {self.instance_id: {
            "patch_is_None": False, "patch_exists": self.patch_exists,
            "patch_successfully_applied": self.patch_applied, "resolved": self.resolved,
            "tests_status": {"FAIL_TO_PASS": self.f2p, "PASS_TO_PASS": self.p2p,
                             "FAIL_TO_FAIL": {"success": [], "failure": []},
                             "PASS_TO_FAIL": {"success": [], "failure": []}},
            "reward": self.reward, "reason": self.reason, "method": self.method, "exit_code": self.exit_code,
            "timed_out": self.timed_out, "eval_duration": round(self.duration, 3),
            "reverted_test_files": list(self.reverted_test_files), "tests": dict(sorted(self.tests.items())),
        }}


# -- the patch ------------------------------------------------------------------------------------
def split_patch(patch: str) -> list[tuple[str, str]]:
    """(path, text) per file section of a git diff; path is the post-image path (the pre-image for deletions)."""
    matches = list(_DIFF_HEADER.finditer(patch))
    sections = []
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(patch)
        text = patch[m.start():end]
        path = m.group(2)
        if "\n+++ /dev/null" in text:
            path = m.group(1)
        sections.append((path, text if text.endswith("\n") else text + "\n"))
    return sections


def patch_files(patch: str) -> set[str]:
    files = set()
    for m in _DIFF_HEADER.finditer(patch or ""):
        files.update((m.group(1), m.group(2)))
    return files


def is_test_path(path: str) -> bool:
    return bool(_TEST_PATH.search(path))


def without_test_edits(patch: str, test_patch: str = "") -> tuple[str, tuple[str, ...]]:
    """(the patch minus its sections on test files, the paths left out)."""
    hidden = patch_files(test_patch)
    kept, dropped = [], []
    for path, text in split_patch(patch or ""):
        if path in hidden or is_test_path(path) or any(p in hidden for p in patch_files(text)):
            dropped.append(path)
        else:
            kept.append(text)
    return "".join(kept), tuple(dropped)


# -- the environment ------------------------------------------------------------------------------
def prepare_pristine(env: Environment, inst: AgentInstance) -> str:
    """Put the workdir at the instance's starting state; return "" or why it cannot be.

    A setup patch (a mutation's bug) is folded into the current commit, so neither `git status` nor
    `git log` shows the agent where it is.
    """
    stage = _stage(env, {"setup.diff": inst.setup_patch} if inst.setup_patch else {})
    res = env.execute(_prepare_script(inst, stage), cwd=env.workdir, timeout=SETUP_TIMEOUT)
    return "" if res.ok else _prepare_error(res, inst)


def _prepare_script(inst: AgentInstance, stage: str, probes: tuple[str, ...] = ()) -> str:
    """Bash: check out the base (exit 3), apply and fold the setup patch (exit 4, 5), print which probes exist."""
    q = shlex.quote
    lines = ["set -u"]
    if inst.base_commit:
        lines.append(f"if [ \"$(git rev-parse HEAD 2>/dev/null)\" != {q(inst.base_commit)} ]; then "
                     f"git -c advice.detachedHead=false checkout -q -f {q(inst.base_commit)} || exit 3; fi")
    if inst.setup_patch:
        ident = "-c user.name=r2e -c user.email=r2e@localhost"
        lines += [_apply_line(f"{stage}/setup.diff") + " || exit 4",
                  f"{{ git add -A . && git {ident} commit -q --amend --no-edit --allow-empty && "
                  "git reflog expire --expire=now --all; } || exit 5"]
    lines += [f"test -e {q(p)} && echo {q('R2E-PROBE ' + p)}" for p in probes]
    lines.append("exit 0")
    return "\n".join(lines)


def _prepare_error(res, inst: AgentInstance) -> str:
    tail = res.output.strip()[-300:]
    if res.exit_code == 3:
        return f"cannot check out base commit {inst.base_commit[:12]}: {tail}"
    if res.exit_code == 4:
        return f"setup patch does not apply: {tail}"
    if res.exit_code == 5:
        return f"cannot fold the setup patch into the base commit: {tail}"
    return f"cannot prepare the workdir: {tail}"


def _apply_line(path: str) -> str:
    """git apply, then patch --fuzz as SWE-bench falls back to."""
    q = shlex.quote(path)
    return (f"{{ git apply --verbose --whitespace=nowarn {q} || "
            f"{{ command -v patch >/dev/null && patch --batch --fuzz=5 -p1 -i {q}; }}; }}")


def _stage(env: Environment, files: dict[str, str]) -> str:
    """Copy `files` (name -> text) into one fresh folder of the environment in one go; return its path."""
    remote = f"/tmp/r2e-stage-{uuid.uuid4().hex[:10]}"
    if not files:
        return remote
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "stage"
        folder.mkdir()
        for name, text in files.items():
            (folder / name).write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8",
                                       errors="surrogateescape")
        env.copy_to(folder, remote)
    return remote


def apply_patch(env: Environment, patch: str, name: str) -> str:
    """Apply `patch` in the workdir; "" or the error."""
    if not patch.strip():
        return ""
    stage = _stage(env, {f"{name}.diff": patch})
    res = env.execute(_apply_line(f"{stage}/{name}.diff"), cwd=env.workdir, timeout=SETUP_TIMEOUT)
    return "" if res.ok else (res.output.strip()[-500:] or f"exit code {res.exit_code}")


# -- the verdict ----------------------------------------------------------------------------------
def parse_pytest_log(log: str) -> dict[str, str]:
    """Per-test statuses from pytest `-rA` lines (`PASSED tests/x.py::t`, `FAILED id - message`), or from
    `-v` lines (`tests/x.py::t PASSED [ 50%]`) when there is no -rA summary.

    Only pytest's own summary is read when it is there (after its last "short test summary info" rule,
    up to the next rule), and only between SWE-bench's start/end marks when those are printed: lines
    the tested code prints itself do not count.
    """
    text = _ANSI.sub("", log or "")
    if START_MARK in text:
        text = text.split(START_MARK, 1)[1].split(END_MARK, 1)[0]
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if _SUMMARY.match(line.strip())]
    if starts:
        body = []
        for line in lines[starts[-1] + 1:]:
            if _RULE.match(line.strip()):
                break
            body.append(line)
        lines = body
    tests: dict[str, str] = {}
    for line in lines:
        line = line.strip()
        verbose = None if starts else _VERBOSE.match(line)  # no -rA summary: `tests/x.py::t PASSED [ 50%]`
        if verbose:
            tests[verbose.group(1)] = "FAILED" if verbose.group(2) == "XPASS" else verbose.group(2)
            continue
        word, _, rest = line.partition(" ")
        if word not in STATUS_WORDS or not rest.strip():
            continue
        if word in ("FAILED", "ERROR", "XFAIL", "SKIPPED") and " - " in rest:
            rest = rest.split(" - ", 1)[0]
        test_id = rest.strip()
        if word == "SKIPPED" and test_id.startswith("["):  # `SKIPPED [1] file.py:3: reason`: no test id
            continue
        tests[test_id] = "FAILED" if word == "XPASS" else word
    return tests


def verdict(tests: dict[str, str], f2p: tuple[str, ...], p2p: tuple[str, ...]) -> tuple[bool, dict, dict, str]:
    """SWE-bench semantics, stricter on skips: (resolved, f2p split, p2p split, reason)."""
    def split(ids):
        ok = [t for t in ids if tests.get(t) in PASSING]
        return {"success": ok, "failure": [t for t in ids if tests.get(t) not in PASSING]}
    f, p = split(f2p), split(p2p)
    if not tests:
        return False, f, p, "empty_map"
    if not f2p and not p2p:
        return False, f, p, "no_tests_named"
    resolved = not f["failure"] and not p["failure"]
    return resolved, f, p, "resolved" if resolved else "tests_failed"


def r2egym_verdict(tests: dict[str, str], expected_json: str) -> tuple[bool, str]:
    """R2E-Gym's rule: the parsed map (keys cut at ' - ', colours stripped) equals the expected one."""
    try:
        expected = json.loads(expected_json)
    except json.JSONDecodeError:
        return False, "bad_expected_output"
    def norm(m):
        return {_ANSI.sub("", str(k)).split(" - ")[0]: str(v).upper() for k, v in m.items()}
    got, want = norm(tests), norm(expected)
    if not got:
        return False, "empty_map"
    return (got == want), ("resolved" if got == want else "tests_failed")


# -- grading --------------------------------------------------------------------------------------
def grade(inst: AgentInstance, patch: str, open_env: Callable[[AgentInstance, str], Environment], *,
          apply_setup: bool = True, timeout: float | None = None) -> Grade:
    """Grade `patch` for `inst` in a fresh environment from `open_env(inst, purpose)`; never raises for the patch."""
    timeout = timeout or inst.eval_timeout
    env = open_env(inst, "grade")
    try:
        return _grade_in(env, inst, patch, apply_setup, timeout)
    finally:
        env.close()


def _grade_in(env: Environment, inst: AgentInstance, patch: str, apply_setup: bool, timeout: float) -> Grade:
    base = dict(instance_id=inst.instance_id, reward=0.0, resolved=False, patch_exists=bool(patch.strip()))
    setup_inst = inst if apply_setup else _without_setup(inst)
    kept, dropped = without_test_edits(patch, inst.test_patch)
    hidden = inst.test_patch if inst.test_patch.strip() and not _embedded(inst.test_patch, inst.eval_script) else ""
    files = {"model.diff": kept, "tests.diff": hidden, "setup.diff": setup_inst.setup_patch}
    if inst.eval_script:
        files["eval.sh"] = inst.eval_script
    # Everything goes in at once and the checks share one command: each round trip costs ~0.1-0.3 s.
    stage = _stage(env, {k: v for k, v in files.items() if v.strip()})
    probes = (R2E_RUN_TESTS, "/r2e_tests", f"{env.workdir}/run_tests.sh")
    res = env.execute(_prepare_script(setup_inst, stage, probes), cwd=env.workdir, timeout=SETUP_TIMEOUT)
    if not res.ok:
        return Grade(**base, reason="env_error", log=_prepare_error(res, setup_inst))
    found = {line[len("R2E-PROBE "):].strip() for line in res.output.splitlines() if line.startswith("R2E-PROBE ")}
    q = shlex.quote
    if kept.strip():
        res = env.execute(_apply_line(f"{stage}/model.diff"), cwd=env.workdir, timeout=SETUP_TIMEOUT)
        if not res.ok:
            return Grade(**base, reason="patch_apply_failed", log=res.output.strip()[-2000:],
                         reverted_test_files=dropped)
    base.update(patch_applied=True, reverted_test_files=dropped)
    steps = []
    if hidden:
        steps.append(_apply_line(f"{stage}/tests.diff") + " || exit 7")
    if inst.kind == "r2egym" and "/r2e_tests" in found:  # R2E-Gym keeps its hidden tests there
        steps.append(f"rm -rf r2e_tests && cp -r /r2e_tests {q(env.workdir)}/r2e_tests")
    if steps:
        res = env.execute("\n".join(steps), cwd=env.workdir, timeout=SETUP_TIMEOUT)
        if not res.ok:
            return Grade(**base, reason="test_patch_failed", log=res.output.strip()[-2000:])
    t0 = time.monotonic()
    tests, log, code, timed_out, method = _run_eval(env, inst, timeout, stage, found)
    duration = time.monotonic() - t0
    base.update(tests=tests, log=log, exit_code=code, timed_out=timed_out, duration=duration, method=method)
    if inst.expected_output_json:
        resolved, reason = r2egym_verdict(tests, inst.expected_output_json)
        f = {"success": [], "failure": []}
        base.update(method="expected", f2p=f, p2p=f)
    else:
        resolved, f, p, reason = verdict(tests, inst.fail_to_pass, inst.pass_to_pass)
        base.update(f2p=f, p2p=p)
    if timed_out:  # a suite cut short judged nothing it did not reach; never a pass
        resolved, reason = False, "eval_timeout"
    base.update(resolved=resolved, reward=1.0 if resolved else 0.0)
    return Grade(**base, reason=reason)


def _run_eval(env: Environment, inst: AgentInstance, timeout: float, stage: str, found: set[str]):
    """(map, log, exit code, timed out, method) of the instance's eval."""
    if not inst.eval_script and R2E_RUN_TESTS in found and not inst.expected_output_json:
        from installers.eval_run import EvalScript, run_eval_script
        from installers.eval_script import REPORT_PATH

        script = EvalScript(path=R2E_RUN_TESTS, text="", report_path=REPORT_PATH, test_command=R2E_RUN_TESTS,
                            runner="pytest", eval_timeout=timeout)
        ids = tuple(dict.fromkeys(inst.fail_to_pass + inst.pass_to_pass))
        run = run_eval_script(env, script, ids)
        log = json.dumps(run.to_dict(), indent=1)
        return dict(run.tests), log, run.exit_code, run.timed_out, "report"
    q = shlex.quote
    if inst.eval_script:
        command = f"bash {q(stage + '/eval.sh')}"
    elif inst.kind == "r2egym" and f"{env.workdir}/run_tests.sh" in found:
        command = "bash run_tests.sh"
    else:  # no script named: pytest on the files the ids (or R2E-Gym's expected map) name
        ids = inst.fail_to_pass + inst.pass_to_pass
        if inst.expected_output_json:
            try:
                ids = tuple(str(k).split(" - ")[0] for k in json.loads(inst.expected_output_json))
            except (json.JSONDecodeError, AttributeError):
                ids = ()
        files = sorted({t.split("::")[0] for t in ids})
        command = "python -m pytest -rA " + " ".join(map(q, files))
    res = env.execute(command, cwd=env.workdir, timeout=timeout)
    return parse_pytest_log(res.output), res.output, res.exit_code, res.timed_out, "log"


def _embedded(test_patch: str, eval_script: str) -> bool:
    """SWE-bench-style eval scripts apply the test patch themselves: applying it twice would fail."""
    first = next((line for line in test_patch.splitlines() if line.startswith("diff --git")), "")
    return bool(eval_script and first and first in eval_script)


def _without_setup(inst: AgentInstance) -> AgentInstance:
    from dataclasses import replace

    return replace(inst, setup_patch="")
