"""One instance, from its Dockerfile to a checked image: build, deterministic checks and fixes (recorded in
`normalisations`), an LLM edit only where a check fails that an edit may fix, and the result written."""

from __future__ import annotations

import hashlib
import io
import json
import re
import shlex
import shutil
import subprocess
import tarfile
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from harness.normalize import dockerfile as df
from harness.normalize import engine, gitcheck, testlog
from harness.normalize.records import CheckFailed, Instance
from harness.normalize.repair import REPAIRABLE, Repairer
from installers.eval_script import git_exclude_command, git_exclude_lines
from r2e.fsio import atomic_write_json, atomic_write_text
from r2e.names import sanitize

TESTBED = "/testbed"
IMAGE_PREFIX = "r2e-normalize"
DETERMINISTIC_ROUNDS = 4  # fixes found per check pass (layout, excludes after build, excludes after eval) + 1


@dataclass
class Settings:
    output: Path
    eval_timeout: float = 300.0
    max_iterations: int = 5
    repos: Path | None = None  # --repos: <name> or <owner>__<name> folders
    workspace_repos: Path | None = None  # $R2E_HOME/repos
    llm: object | None = None  # an LLMClient, or None
    llm_config: object | None = None
    runs: int = 2  # each configuration is run this many times (flaky tests show on the rerun)


@dataclass
class Counter:
    builds: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self) -> None:
        with self.lock:
            self.builds += 1


def image_repo(instance_id: str) -> str:
    """A Docker repository name for the instance: lower case, one dash between alphanumeric runs."""
    safe = re.sub(r"[^a-z0-9]+", "-", instance_id.lower()).strip("-")[:80].strip("-") or "instance"
    return f"{IMAGE_PREFIX}-{safe}"


def instance_dir(output: Path, instance_id: str) -> Path:
    digest = hashlib.sha256(instance_id.encode()).hexdigest()[:8]
    return output / "instances" / f"{sanitize(instance_id)}-{digest}"


@dataclass
class State:
    core: str  # the Dockerfile after the rule rewrites, before the fixes' tail
    eval_script: str
    moves: list[str] = field(default_factory=list)  # shell: the repository into /testbed
    excludes: list[str] = field(default_factory=list)  # shell: lines into /testbed/.git/info/exclude
    notes: list[str] = field(default_factory=list)  # the normalisations, in the order they were made
    excluded: list[str] = field(default_factory=list)
    base: str = ""
    venvs_checked: bool = False

    @property
    def dockerfile(self) -> str:
        # One RUN for all fixes: every layer costs a commit of the image's file system.
        steps = self.moves + self.excludes
        tail = [f"RUN {' && '.join(steps)}"] if steps else []
        if self.moves:
            tail.append(f"WORKDIR {TESTBED}")
        return df.with_tail(self.core, tail)


class Normalizer:
    def __init__(self, inst: Instance, settings: Settings, probe: engine.ImageProbe, counter: Counter):
        self.inst, self.s, self.probe, self.counter = inst, settings, probe, counter
        self.dir = instance_dir(settings.output, inst.instance_id)
        self.client = probe.client
        self.checks: list[dict] = []
        self.repo_copy: Path | None = None
        self.last_log = ""
        self.started = time.monotonic()

    # ---- the whole instance

    def run(self) -> dict:
        self.dir.mkdir(parents=True, exist_ok=True)
        work = self.work = Path(tempfile.mkdtemp(prefix="r2e-normalize-"))
        repairer = Repairer(self.s.llm, self.s.llm_config) if self.s.llm is not None else None
        state = None
        try:
            state = self._start(work)
            iteration = 0
            while True:
                try:
                    image, runtime, verdict = self._check_all(state, work)
                    return self._success(state, image, runtime, verdict)
                except CheckFailed as failure:
                    if (repairer is None or failure.reason not in REPAIRABLE
                            or iteration >= self.s.max_iterations):
                        raise
                    iteration += 1
                    edit = repairer.propose(repo=self.inst.repo, base_commit=self.inst.base_commit, base=state.base,
                                            reason=failure.reason, detail=failure.detail,
                                            dockerfile=state.dockerfile, eval_script=state.eval_script,
                                            log=self.last_log)
                    self._save_transcript(repairer)
                    if edit is None:
                        raise
                    state = self._apply_edit(state, edit, iteration)
        except CheckFailed as failure:
            return self._failure(state, failure.reason, failure.detail)
        finally:
            if repairer is not None:
                self._save_transcript(repairer)
            shutil.rmtree(work, ignore_errors=True)

    def _save_transcript(self, repairer: Repairer) -> None:
        if repairer.transcript:
            atomic_write_json(self.dir / "llm_transcript.json", repairer.transcript)

    # ---- the Dockerfile by rule

    def _start(self, work: Path) -> State:
        text = self.inst.dockerfile or f"FROM {self.inst.docker_image}\n"
        return self._prepare(text, self.inst.eval_script, [], work)

    def _prepare(self, text: str, eval_script: str, notes: list[str], work: Path) -> State:
        text = df.with_tail(text, [])  # a tail we wrote earlier is re-derived, not trusted
        text, clone_notes, dests = df.rewrite_clones(text, self.inst.repo)
        notes = list(notes)
        if clone_notes and self.repo_copy is None:
            self.repo_copy = self._copy_repo(work)
        for note in clone_notes:
            if note not in notes:
                notes.append(note)
        base = ""
        for image in df.from_images(text):
            if self.probe.available(image):
                base = base or image
                continue
            if self.inst.dockerfile is None:  # the instance's own image: no base stands in for its repository
                raise CheckFailed("base_unavailable", f"docker_image {image} is not here and cannot be pulled")
            local = next((c for c in df.base_candidates(image) if self.probe.available(c, pull=False)), None)
            if local is None:
                raise CheckFailed("base_unavailable",
                                  f"FROM {image} cannot be pulled and no R2E base is built "
                                  f"(r2e images build-base --python X.Y)")
            text = df.substitute_from(text, image, local)
            note = f"FROM {image} cannot be pulled: built on R2E's local base {local}"
            if note not in notes:
                notes.append(note)
            base = base or local
        self._check("base", True, base)
        # Excludes go in with the first build: every repository wants them, and a build saved is seconds saved.
        state = State(core=text, eval_script=eval_script, notes=notes, base=base,
                      excludes=[git_exclude_command(TESTBED)], excluded=list(git_exclude_lines()))
        dests = dests + df.context_copies(text)  # an edited Dockerfile shows our COPY, not the clone
        nested = [d for d in dict.fromkeys(d.rstrip("/") for d in dests) if d.startswith(TESTBED + "/")]
        if nested:  # cloned below /testbed: known before any build
            self._move(state, nested[0])
        return state

    def _copy_repo(self, work: Path) -> Path:
        source = self._find_repo()
        if source is None:
            raise CheckFailed("repo_unavailable", f"no local copy of {self.inst.repo} in --repos or the workspace, "
                                                  "and no network to clone it")
        dest = work / "context" / df.CONTEXT_REPO
        dest.parent.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(source), str(dest)],
                              capture_output=True, text=True)
        if proc.returncode != 0 or not gitcheck.has_commit(dest, self.inst.base_commit):
            raise CheckFailed("repo_unavailable", f"the local copy {source.name} has no commit {self.inst.base_commit}")
        gitcheck.git(dest, "checkout", "--quiet", "--detach", self.inst.base_commit)
        # The copy's remote would name a host path inside the image: point it where the repository lives.
        gitcheck.git(dest, "remote", "set-url", "origin", f"https://github.com/{self.inst.repo.removesuffix('.git')}.git")
        self._check("repo_copy", True, f"{source.name} at {self.inst.base_commit[:12]}")
        return dest

    def _find_repo(self) -> Path | None:
        owner_name = self.inst.repo.removesuffix(".git").split("github.com/")[-1].strip("/")
        names = [owner_name.replace("/", "__"), self.inst.repo_name]
        for root in (self.s.repos, self.s.workspace_repos):
            for name in names:
                if root is not None and name and (root / name / ".git").exists():
                    return root / name
        return None

    def _apply_edit(self, state: State, edit: tuple[str, str], iteration: int) -> State:
        kind, text = edit
        notes = state.notes + [f"LLM iteration {iteration}: the model's {kind.replace('_', ' ')} edit"]
        if kind == "dockerfile":
            return self._prepare(df.strip_tail(text, state.dockerfile), state.eval_script, notes, self.work)
        return replace(state, eval_script=text, notes=notes, moves=list(state.moves), excludes=list(state.excludes),
                       excluded=list(state.excluded))

    # ---- the checks

    def _check(self, name: str, ok: bool, detail: str = "") -> None:
        self.checks.append({"check": name, "ok": ok, "detail": detail,
                            "at_s": round(time.monotonic() - self.started, 2)})
        atomic_write_json(self.dir / "checks.json", self.checks)

    def _fail(self, name: str, reason: str, detail: str) -> CheckFailed:
        self._check(name, False, f"{reason}: {detail}")
        return CheckFailed(reason, detail)

    def _check_all(self, state: State, work: Path):
        for _ in range(DETERMINISTIC_ROUNDS):
            image = self._build(state, work)
            tree = work / f"tree-{time.monotonic_ns()}"
            if self._fix_layout(state, image, tree):
                continue
            if self._fix_excludes(state, tree, gitcheck.status(tree), "after the build", set()):
                continue
            excludes_before = len(state.excludes)
            result = self._evaluate(state, image, tree, work)
            if len(state.excludes) != excludes_before:
                # Exclude lines found after the eval were checked on the eval's own tree; the image only needs
                # them baked in, which changes no test result.
                image = self._build(state, work)
            return (image, *result)
        raise self._fail("worktree", "dirty_worktree", "the fixes did not settle")

    def _build(self, state: State, work: Path) -> str:
        text = state.dockerfile
        seed = json.dumps([text, self.inst.base_commit if self.repo_copy else ""]).encode()
        tag = f"{image_repo(self.inst.instance_id)}:{hashlib.sha256(seed).hexdigest()[:16]}"
        atomic_write_text(self.dir / "Dockerfile", text)
        if self.probe.exists(tag):
            self._check("build", True, f"{tag} exists (nothing changed)")
            return tag
        context = work / "context"
        context.mkdir(parents=True, exist_ok=True)
        atomic_write_text(context / "Dockerfile", text)
        self.counter.add()
        ok, error = engine.build(self.client, context, tag, self.dir / "build.log")
        if not ok and not engine.step_failed(error):
            # Not a step of the Dockerfile failing but the engine (a build container removed under it by a
            # sweep, a daemon hiccup): once more before calling the Dockerfile broken.
            self._check("build", False, f"engine error, building again: {error}")
            ok, error = engine.build(self.client, context, tag, self.dir / "build.log")
        self.last_log = _tail(self.dir / "build.log")
        if not ok:
            raise self._fail("build", "build_failed", error or "the build failed")
        self._check("build", True, tag)
        return tag

    def _fix_layout(self, state: State, image: str, tree: Path) -> bool:
        """True when a fix was added (rebuild); raises when /testbed cannot be made the repository."""
        found = engine.export_image(self.client, image, TESTBED, tree)
        if found and gitcheck.is_repo(tree):
            head = gitcheck.head(tree)
            if head != self.inst.base_commit:
                raise self._fail("layout", "testbed_layout", f"/testbed is at {head}, not base_commit {self.inst.base_commit}")
            self._check("layout", True, f"git toplevel /testbed at {head[:12]}")
            return False
        if state.moves:
            raise self._fail("layout", "testbed_layout", "the repository moved to /testbed has no .git")
        nested = [d for d in engine.find_git_dirs(self.client, image) if d not in ("", "/")]
        if not nested:
            raise self._fail("layout", "testbed_layout", "no git repository in the image")
        names = {self.inst.repo_name.lower(), self.inst.repo_name.lower().replace("-", "_")}
        src = next((d for d in nested if d.startswith(TESTBED + "/")), None) or \
            next((d for d in nested if d.rsplit("/", 1)[-1].lower() in names), nested[0])
        self._move(state, src)
        return True

    def _move(self, state: State, src: str) -> None:
        q = shlex.quote
        if src.startswith(TESTBED + "/"):
            # Moved up into /testbed; what sat beside it stays (the exclude check sees it).
            step = (f"mv {q(src)} /r2e-nested && for f in /r2e-nested/* /r2e-nested/.[!.]* /r2e-nested/..?*; "
                    f"do if [ -e \"$f\" ]; then mv \"$f\" {TESTBED}/ || exit 1; fi; done && rmdir /r2e-nested")
        else:
            step = f"rm -rf {TESTBED} && mv {q(src)} {TESTBED}"
        state.moves.append(step)
        state.notes.append(f"repository moved from {src} to {TESTBED} (git toplevel at {TESTBED})")
        if src in state.eval_script:
            state.eval_script = state.eval_script.replace(src, TESTBED)
            state.notes.append(f"eval script: paths under {src} now under {TESTBED}")
        self._check("layout", True, f"nested repository {src}: moved to {TESTBED}")

    def _fix_excludes(self, state: State, tree: Path, lines: list[str], when: str, expected: set[str]) -> bool:
        """Noise in git status becomes exclude lines (True: rebuild); a changed tracked file fails."""
        if when == "after the build" and not state.venvs_checked:
            state.venvs_checked = True
            venvs = gitcheck.venvs(tree)
            extra = [f"/{v}/" for v in venvs if f"/{v}/" not in state.excluded and f"{v}/" not in state.excluded]
            state.notes.append("venv, caches, *.egg-info and build outputs added to /testbed/.git/info/exclude"
                               + (f" (virtual environments found: {', '.join(venvs)})" if venvs else ""))
            if extra:
                state.excluded += extra
                state.excludes.append("printf '%s\\n' " + " ".join(shlex.quote(p) for p in extra)
                                      + f" >> {TESTBED}/.git/info/exclude")
                return True
        noise = [line for line in lines if not _expected(gitcheck.status_paths([line])[0], expected)]
        if not noise:
            self._check(f"git status {when}", True, "clean" if not expected else "only the patch's files")
            return False
        tracked = [line for line in noise if not line.startswith("??")]
        if tracked:
            raise self._fail(f"git status {when}", "dirty_worktree",
                             f"tracked files changed {when}: {', '.join(gitcheck.status_paths(tracked)[:5])}")
        paths = ["/" + p.rstrip("/") + ("/" if p.endswith("/") else "") for p in gitcheck.status_paths(noise)]
        new = [p for p in paths if p not in state.excluded]
        if not new:
            raise self._fail(f"git status {when}", "dirty_worktree", f"untracked files {when} stay visible: {paths[:5]}")
        state.excluded += new
        state.excludes.append("printf '%s\\n' " + " ".join(shlex.quote(p) for p in new)
                              + f" >> {TESTBED}/.git/info/exclude")
        state.notes.append(f"untracked files made {when} added to /testbed/.git/info/exclude: {', '.join(new[:10])}")
        self._check(f"git status {when}", True, f"{len(new)} untracked path(s) excluded")
        return True

    def _settle_after_eval(self, state: State, after: Path, when: str, expected: set[str]) -> None:
        """Noise an eval leaves becomes exclude lines, checked at once on the eval's exported tree."""
        for _ in range(2):
            exclude = after / ".git" / "info" / "exclude"
            exclude.parent.mkdir(parents=True, exist_ok=True)
            present = set(exclude.read_text().splitlines()) if exclude.exists() else set()
            missing = [p for p in state.excluded if p not in present]
            if missing:
                with open(exclude, "a", encoding="utf-8") as fh:
                    fh.write("".join(f"{p}\n" for p in missing))
            if not self._fix_excludes(state, after, gitcheck.status(after), when, expected):
                return
        raise self._fail(f"git status {when}", "dirty_worktree", "untracked files stay visible after excluding them")

    def _evaluate(self, state: State, image: str, tree: Path, work: Path):
        inst, runs = self.inst, self.s.runs
        logs: list[str] = []
        test_patch_in_script = bool(inst.test_patch.strip()) and inst.test_patch.strip() in state.eval_script
        configs = [("base", [])]
        if inst.patch.strip():
            tp = [] if test_patch_in_script else [inst.test_patch]
            configs = [("gold", [inst.patch, *tp]), ("empty", tp)]
        results: dict[str, list[dict[str, str]]] = {}
        runtime = 0.0
        for name, patches in configs:
            try:
                files, deletions = gitcheck.patched_files(tree, patches) if any(p.strip() for p in patches) else (None, ())
            except gitcheck.GitError as exc:
                raise self._fail(f"eval {name}", "patch_failed", f"the {name} patch does not apply: {exc}")
            expected = set()
            if files or deletions:
                with tarfile.open(fileobj=io.BytesIO(files or b"")) as tar:
                    expected = {m.name.split("/", 1)[1] for m in tar.getmembers()}
                expected |= {d.split("/", 2)[2] for d in deletions}
            after = work / f"after-{name}-{time.monotonic_ns()}"
            started = time.monotonic()
            run_logs = engine.run_eval(self.client, image, state.eval_script, runs=runs, timeout=self.s.eval_timeout,
                                       files=files, deletions=deletions, export_to=after)
            wall = time.monotonic() - started
            for i, r in enumerate(run_logs, 1):
                logs.append(f"===== {name} run {i}: exit {r.exit_code}, {r.duration:.1f} s"
                            f"{' (timed out)' if r.timed_out else ''}\n{r.log}")
            atomic_write_text(self.dir / "eval.log", "\n".join(logs))
            self.last_log = "\n".join(logs)
            if any(r.timed_out for r in run_logs) or not run_logs:
                raise self._fail(f"eval {name}", "eval_timeout",
                                 f"the eval script ran over --eval-timeout {self.s.eval_timeout:g} s")
            runtime = max([runtime, *(r.duration for r in run_logs)])
            self._check(f"eval {name}", True, f"{len(run_logs)} run(s), longest {runtime:.1f} s (wall {wall:.1f} s)")
            results[name] = [testlog.parse_run(r.log, r.report) for r in run_logs]
            if gitcheck.is_repo(after):
                self._settle_after_eval(state, after, f"after the {name} eval", expected)
        if not any(any(r) for r in results.values()):
            raise self._fail("tests", "eval_no_tests", "the eval log names no test with a status")
        if "gold" in results:
            verdict = testlog.judge_patched(results["gold"], results["empty"], inst.fail_to_pass, inst.pass_to_pass)
        else:
            verdict = testlog.judge_plain(results["base"], inst.fail_to_pass, inst.pass_to_pass)
        if verdict.flaky:
            self._check("flaky", True, f"{len(verdict.flaky)} flaky test(s): {', '.join(verdict.flaky[:5])}")
        if verdict.reason:
            raise self._fail("tests", verdict.reason, verdict.detail)
        self._check("tests", True, f"FAIL_TO_PASS {len(verdict.fail_to_pass)}, PASS_TO_PASS {len(verdict.pass_to_pass)}")
        return round(runtime, 3), verdict

    # ---- results

    def _success(self, state: State, image: str, runtime: float, verdict: testlog.Verdict) -> dict:
        notes = list(dict.fromkeys(state.notes))  # a fix re-derived after an LLM edit is noted once
        flaky = list(verdict.flaky)
        if flaky:
            notes.append(f"flaky tests removed from FAIL_TO_PASS/PASS_TO_PASS: {', '.join(flaky[:10])}")
        if verdict.derived:
            notes.append("FAIL_TO_PASS and PASS_TO_PASS made from the gold and empty runs")
        entry = dict(self.inst.raw)
        entry.update(docker_image=image, dockerfile=state.dockerfile, eval_script=state.eval_script,
                     eval_runtime_s=runtime, flaky_tests=flaky, normalisations=notes)
        for key, values in (("FAIL_TO_PASS", verdict.fail_to_pass), ("PASS_TO_PASS", verdict.pass_to_pass)):
            if key in self.inst.raw or verdict.derived:
                entry[key] = json.dumps(list(values)) if isinstance(self.inst.raw.get(key), str) else list(values)
        return self._write({"instance_id": self.inst.instance_id, "status": "transferred", "entry": entry})

    def _failure(self, state: State | None, reason: str, detail: str) -> dict:
        entry = dict(self.inst.raw)
        entry.update(failure_reason=reason, failure_detail=detail)
        if state is not None:
            entry.update(dockerfile_tried=state.dockerfile, normalisations=list(state.notes))
        return self._write({"instance_id": self.inst.instance_id, "status": "failed", "reason": reason,
                            "detail": detail, "entry": entry})

    def _write(self, result: dict) -> dict:
        result["checks"] = self.checks
        atomic_write_json(self.dir / "result.json", result)
        return result


def _expected(path: str, expected: set[str]) -> bool:
    """A status path the patch made: the file itself, or an untracked folder holding one."""
    path = path.rstrip("/")
    return path in expected or any(e.startswith(path + "/") for e in expected)


def _tail(path: Path, chars: int = 4000) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[-chars:]
    except OSError:
        return ""
