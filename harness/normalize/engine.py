"""The Docker side, through the SDK against the local engine: images available or pulled, builds with a log,
an eval run in a fresh container under a time budget, and /testbed exported for git checks on the host."""

from __future__ import annotations

import io
import os
import shlex
import tarfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from installers.images import LABEL

EVAL_PATH = "/r2e-normalize-eval.sh"
R2E_REPORT = "/tmp/r2e-test-report.json"  # where R2E's /run_tests.sh leaves the per-test map
RUN_START, RUN_END = "@@R2E-NORMALIZE-RUN-START", "@@R2E-NORMALIZE-RUN-END"
KILL_GRACE = 5


def client(timeout: float = 600):
    """The local engine; `timeout` bounds one API call, and an eval series is one call (exec in a container)."""
    import docker

    return docker.from_env(timeout=int(timeout))


class ImageProbe:
    """Is an image here, or can it be pulled? Asked once per image per run (a pull is slow to fail)."""

    def __init__(self, dclient):
        self.client = dclient
        self._known: dict[str, bool] = {}
        self._lock = threading.Lock()

    def available(self, name: str, pull: bool = True) -> bool:
        with self._lock:
            if name not in self._known:
                self._known[name] = self.exists(name) or (pull and self._pull(name))
            return self._known[name]

    def exists(self, name: str) -> bool:
        import docker.errors

        try:
            self.client.images.get(name)
            return True
        except docker.errors.ImageNotFound:
            return False
        except docker.errors.APIError:
            return False

    def _pull(self, name: str) -> bool:
        try:
            repo, _, tag = name.rpartition(":") if ":" in name.rsplit("/", 1)[-1] else (name, "", "latest")
            self.client.images.pull(repo, tag=tag or "latest")
            return True
        except Exception:  # no registry, no network, no such image: all mean "not available"
            return False


def build(dclient, context: Path, tag: str, log_path: Path) -> tuple[bool, str]:
    """Build `context`/Dockerfile as `tag`; the log is written as it streams. Returns (ok, last error line)."""
    error = ""
    with open(log_path, "w", encoding="utf-8") as log:
        try:
            for chunk in dclient.api.build(path=str(context), tag=tag, rm=True, forcerm=True, pull=False,
                                           decode=True, labels={LABEL: "normalize"}):
                if "stream" in chunk:
                    log.write(chunk["stream"])
                if "error" in chunk:
                    error = str(chunk["error"]).strip()
                    log.write(f"ERROR: {error}\n")
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}".strip()
            log.write(f"ERROR: {error}\n")
    return not error, error.splitlines()[-1] if error else ""


def step_failed(error: str) -> bool:
    """The build error is a Dockerfile step's own failure (not the engine's)."""
    return any(s in error for s in ("returned a non-zero code", "failed to compute cache key", "COPY failed",
                                    "no such file or directory", "unknown instruction", "dockerfile parse error",
                                    "Dockerfile parse error", "pull access denied", "not found"))


@dataclass(frozen=True)
class RunLog:
    log: str
    exit_code: int | None
    duration: float
    timed_out: bool
    report: str | None  # R2E's report JSON when the eval script wrote one


def run_eval(dclient, image: str, script: str, *, runs: int, timeout: float, files: bytes | None = None,
             deletions: tuple[str, ...] = (), export_to: Path | None = None) -> list[RunLog]:
    """Run `script` `runs` times in one fresh container (the reruns see what the first left, as a rerun by an
    agent would), each under `timeout` seconds; `files` (a tar for /) and `deletions` are applied first.
    /testbed is exported to `export_to` after the last run. A timed-out run ends the series."""
    q = shlex.quote
    lines = ["#!/bin/bash"]
    if deletions:
        lines.append("rm -rf -- " + " ".join(q(d) for d in deletions))
    lines += [
        f"for i in $(seq 1 {runs}); do",
        f'  echo "{RUN_START} $i"',
        f"  rm -f {R2E_REPORT}",
        "  s=$(date +%s.%N)",
        f"  timeout -k {KILL_GRACE} {timeout:g} bash {EVAL_PATH} 2>&1",
        "  rc=$?",
        "  e=$(date +%s.%N)",
        f"  [ -s {R2E_REPORT} ] && cp {R2E_REPORT} /tmp/r2e-normalize-report-$i.json",
        f"  echo \"{RUN_END} $i $rc $(awk -v a=$s -v b=$e 'BEGIN {{ printf \"%.3f\", b - a }}')\"",
        '  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then break; fi',
        "done",
    ]
    wrapper = "\n".join(lines) + "\n"
    budget = runs * (timeout + KILL_GRACE) + 120
    container = _keeper(dclient, image, budget)
    try:
        container.put_archive("/", _tar({EVAL_PATH.lstrip("/"): script, "r2e-normalize-run.sh": wrapper}))
        if files:
            container.put_archive("/", files)
        started = time.monotonic()
        # exec in a container kept running: a stopped r2e container is fair game for `r2e images sweep`
        _, output = container.exec_run(["bash", "/r2e-normalize-run.sh"], demux=False)
        output = (output or b"").decode("utf-8", errors="replace")
        out = _split_runs(output, timeout, time.monotonic() - started)
        out = [RunLog(r.log, r.exit_code, r.duration, r.timed_out, _read_file(container, f"/tmp/r2e-normalize-report-{i}.json"))
               for i, r in enumerate(out, 1)]
        if export_to is not None:
            export(container, "/testbed", export_to)
        return out
    finally:
        _remove(container)


def _keeper(dclient, image: str, seconds: float):
    """A container that sleeps while we exec in it, labelled to expire when it would have ended anyway."""
    labels = {LABEL: "normalize", "r2e.expires": str(int(time.time() + seconds))}
    container = dclient.containers.run(image, [str(int(seconds))], entrypoint=["sleep"], detach=True,
                                       labels=labels, network_disabled=True)
    return container


def _remove(container) -> None:
    try:
        container.remove(force=True)
    except Exception:  # already gone (a sweep, or a removal in progress): nothing left to do
        pass


def _split_runs(output: str, timeout: float, wall: float) -> list[RunLog]:
    runs, current = [], None
    for line in output.splitlines(keepends=True):
        if line.startswith(RUN_START):
            current = []
            continue
        if line.startswith(RUN_END) and current is not None:
            parts = line.split()
            rc, duration = int(parts[2]), float(parts[3])
            runs.append(RunLog("".join(current), rc, duration, rc in (124, 137), None))
            current = None
            continue
        if current is not None:
            current.append(line)
    if current is not None:  # killed from outside mid-run
        runs.append(RunLog("".join(current), None, round(wall, 3), True, None))
    return runs


def _read_file(container, path: str) -> str | None:
    try:
        stream, _ = container.get_archive(path)
    except Exception:
        return None
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        for member in tar:
            if member.isfile():
                return tar.extractfile(member).read().decode("utf-8", errors="replace")
    return None


def export(container, path: str, dest: Path) -> bool:
    """Copy `path` out of a (created or stopped) container into `dest` (its contents); False if absent."""
    import docker.errors

    try:
        stream, _ = container.get_archive(path)
    except docker.errors.NotFound:
        return False
    dest.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO(b"".join(stream))
    top = os.path.basename(path.rstrip("/"))
    with tarfile.open(fileobj=buf) as tar:
        members = []
        for m in tar.getmembers():
            name = m.name
            if name == top or not name.startswith(top + "/"):
                continue
            m.name = name[len(top) + 1:]
            members.append(m)
        tar.extractall(dest, members=members, filter=_inside(dest))
    from harness.normalize.gitcheck import defuse

    defuse(dest)  # host git reads this tree next
    return True


def export_image(dclient, image: str, path: str, dest: Path) -> bool:
    container = _keeper(dclient, image, 300)
    try:
        return export(container, path, dest)
    finally:
        _remove(container)


def find_git_dirs(dclient, image: str) -> list[str]:
    """Folders holding a .git in the image, shallowest first (system folders left out)."""
    cmd = ("find / -xdev -maxdepth 4 \\( -path /proc -o -path /sys -o -path '/usr/*' -o -path '/root/.cache' "
           "-o -path '/opt/conda/pkgs' \\) -prune -o -name .git -print 2>/dev/null || true")
    out = dclient.containers.run(image, [cmd], entrypoint=["bash", "-c"], remove=True, network_disabled=True,
                                 labels={LABEL: "normalize", "r2e.expires": str(int(time.time() + 300))})
    dirs = sorted({os.path.dirname(p) for p in out.decode().split() if p.endswith("/.git")},
                  key=lambda p: (p.count("/"), p))
    return dirs


def _tar(files: dict[str, str | bytes], mode: int = 0o755) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), mode, int(time.time())
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _inside(dest: Path):
    """tarfile's 'tar' filter plus: no member is written through a symlink that leads out of `dest`."""
    root = os.path.realpath(dest)

    def check(member: tarfile.TarInfo, path: str):
        member = tarfile.tar_filter(member, path)
        parent = os.path.realpath(os.path.join(root, os.path.dirname(member.name)))
        if parent != root and not parent.startswith(root + os.sep):
            return None
        return member

    return check
