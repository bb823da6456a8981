"""The docker backend: the repo at /testbed in a labelled container that expires by itself.

Containers run `sleep <lifetime>` (forgotten ones exit), carry the `r2e` label and an expiry
time (`sweep` removes them), have memory/CPU/pids limits, never run privileged, and mount
nothing from the host. The host's CA bundle (when the host reaches the package index through a
TLS-inspecting proxy) is copied in, not mounted, and removed before a commit: an image of record
starts with a plain `docker run IMAGE` (a mounted file would leave a VOLUME over an existing file,
which docker refuses). Each `execute` is a fresh `bash -lc` under `timeout`, which kills the whole
process group.
"""

from __future__ import annotations

import configparser
import io
import os
import tarfile
import threading
import time
import uuid
from pathlib import Path

from installers.environment import DEFAULT_TIMEOUT, VENV_PATH_PREFIX, Environment, ExecResult, clip_output
from installers.images import LABEL

WORKDIR = "/testbed"
CA_PATH = "/etc/r2e/ca-bundle.crt"
SYSTEM_CA = "/etc/ssl/certs/ca-certificates.crt"  # Debian's bundle (the ca-certificates package of every base)
CA_VARIABLES = ("SSL_CERT_FILE", "PIP_CERT", "REQUESTS_CA_BUNDLE")
DEFAULT_LIFETIME = 4 * 3600
KILL_GRACE = 5
_LIVE: set["DockerEnvironment"] = set()  # open environments of this process, closed on Ctrl-C
_LIVE_LOCK = threading.Lock()


def host_ca_bundle() -> str | None:
    """The CA bundle the host's package tools are told to trust, if any (mounted read-only)."""
    for var in ("R2E_CA_BUNDLE", "SSL_CERT_FILE", "PIP_CERT", "REQUESTS_CA_BUNDLE"):
        value = os.environ.get(var)
        if value and Path(value).is_file():
            return str(Path(value).resolve())
    return _pip_conf_cert()


def _pip_conf_cert() -> str | None:
    """`cert` from pip's configuration files (what the host's pip trusts)."""
    files = [os.environ.get("PIP_CONFIG_FILE") or "", "/etc/pip.conf", "/etc/xdg/pip/pip.conf",
             str(Path.home() / ".config" / "pip" / "pip.conf"), str(Path.home() / ".pip" / "pip.conf")]
    for f in files:
        if not f or not Path(f).is_file():
            continue
        cp = configparser.ConfigParser(interpolation=None)
        try:
            cp.read(f)
        except configparser.Error:
            continue
        cert = cp.get("global", "cert", fallback=None)
        if cert and Path(cert).is_file():
            return str(Path(cert).resolve())
    return None


class DockerEnvironment(Environment):
    supports_commit = True

    def __init__(self, image: str, *, client=None, workdir: str = WORKDIR, lifetime: int = DEFAULT_LIFETIME,
                 mem_limit: str = "4g", cpus: float = 2.0, pids_limit: int = 2048,
                 ca_bundle: str | None = "auto", name_hint: str = "env", network: bool = True,
                 labels: dict[str, str] | None = None):
        import docker

        self.client = client or docker.from_env(timeout=300)
        self.image = image
        self.workdir = workdir
        self.venv = f"{workdir}/.venv"
        self.container = None
        ca = host_ca_bundle() if ca_bundle == "auto" else ca_bundle
        environment = {"LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1", "UV_PYTHON_DOWNLOADS": "never",
                       "UV_LINK_MODE": "copy", "PIP_DISABLE_PIP_VERSION_CHECK": "1",
                       "VIRTUAL_ENV": self.venv,
                       "PATH": f"{self.venv}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
        self.ca = ca
        if ca:
            environment.update(dict.fromkeys(CA_VARIABLES, CA_PATH))
        safe = "".join(c if c.isalnum() or c in "_.-" else "-" for c in name_hint)[:40]
        self.container = self.client.containers.run(
            image, ["sleep", str(int(lifetime))], detach=True, name=f"r2e-{safe}-{uuid.uuid4().hex[:8]}",
            labels={**(labels or {}), LABEL: "1", "r2e.expires": str(int(time.time() + lifetime))},
            working_dir="/", environment=environment,
            mem_limit=mem_limit, nano_cpus=int(cpus * 1e9), pids_limit=pids_limit,
            privileged=False, cap_drop=["NET_RAW", "SYS_ADMIN"], security_opt=["no-new-privileges"],
            **({} if network else {"network_mode": "none"}),
        )
        with _LIVE_LOCK:
            _LIVE.add(self)
        try:
            self.execute(f"mkdir -p {workdir}", cwd="/")
            if ca:
                self.copy_to(Path(ca), CA_PATH)
        except BaseException:
            self.close()
            raise

    def execute(self, command: str, cwd: str | None = None, timeout: float | None = None,
                env: dict[str, str] | None = None) -> ExecResult:
        timeout = DEFAULT_TIMEOUT if timeout is None else timeout
        api = self.client.api
        start = time.monotonic()
        # timeout(1) runs the command in its own process group and signals the whole group.
        cmd = ["timeout", "-k", str(KILL_GRACE), str(max(1, int(timeout))), "bash", "-lc", VENV_PATH_PREFIX + command]
        try:
            exec_id = api.exec_create(self.container.id, cmd, workdir=cwd or self.workdir,
                                      environment=env or None, stdout=True, stderr=True)["Id"]
            out = api.exec_start(exec_id, demux=False) or b""
            code = api.exec_inspect(exec_id).get("ExitCode")
        except Exception as exc:  # the engine failing is data too
            return ExecResult(-1, f"docker exec failed: {type(exc).__name__}: {exc}", False, time.monotonic() - start)
        duration = time.monotonic() - start
        timed_out = code in (124, 137) and duration >= timeout - 0.5
        text = clip_output(out.decode("utf-8", errors="replace"))
        return ExecResult(-1 if timed_out else (code if code is not None else -1), text, timed_out, duration)

    def copy_to(self, src: Path, dest: str, exclude: frozenset[str] | set[str] = frozenset()) -> None:
        src = Path(src)
        dest = dest if dest.startswith("/") else f"{self.workdir}/{dest}"
        parent, name = os.path.split(dest.rstrip("/"))
        self.execute(f"mkdir -p '{parent}'", cwd="/")
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            tar.add(str(src), arcname=name, filter=lambda info: _portable(info, exclude))
        buf.seek(0)
        self.container.put_archive(parent or "/", buf.getvalue())

    def copy_from(self, src: str, dest: Path) -> None:
        src = src if src.startswith("/") else f"{self.workdir}/{src}"
        stream, _ = self.container.get_archive(src)
        buf = io.BytesIO(b"".join(stream))
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=buf) as tar:
            members = tar.getmembers()
            top = members[0].name.split("/")[0] if members else ""
            for m in members:
                rel = m.name[len(top):].lstrip("/")
                m.name = rel
                target = dest / rel if rel else dest
                if m.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                elif m.isfile():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with tar.extractfile(m) as fh:
                        target.write_bytes(fh.read())

    def commit(self, repository: str, tag: str, changes: list[str] | None = None) -> str:
        """Save the container as an image that a plain `docker run IMAGE` starts: docker commit copies
        the container's config, so the expiry label and the CA variables are overwritten here (the
        host's CA bundle is removed first: it was an input of this run, not part of the image)."""
        defaults = [f"WORKDIR {self.workdir}", f"ENV VIRTUAL_ENV={self.venv}",
                    f"ENV PATH={self.venv}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    f"LABEL {LABEL}=repo", f'LABEL {LABEL}.expires=""', 'CMD ["bash"]']
        if self.ca:
            self.execute(f"rm -f {CA_PATH}", cwd="/", timeout=60)
            defaults += [f"ENV {var}={SYSTEM_CA}" for var in CA_VARIABLES]
        image = self.container.commit(repository=repository, tag=tag, changes=changes or defaults)
        return image.id

    def close(self) -> None:
        with _LIVE_LOCK:
            _LIVE.discard(self)
        container, self.container = self.container, None
        if container is not None:
            try:
                container.remove(force=True)
            except Exception:
                pass


def _portable(info: tarfile.TarInfo, exclude=frozenset()) -> tarfile.TarInfo | None:
    if exclude and any(part in exclude for part in info.name.split("/")[1:]):
        return None
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def close_all() -> None:
    """Remove every container this process still has open (Ctrl-C in a batch)."""
    with _LIVE_LOCK:
        live = list(_LIVE)
    for env in live:
        env.close()


def sweep(client, *, all_containers: bool = False) -> int:
    """Remove r2e containers that expired or exited (all of them with `all_containers`).

    Only containers R2E started (label r2e=1): one a user starts from an image of record is theirs."""
    now = time.time()
    removed = 0
    for c in client.containers.list(all=True, filters={"label": f"{LABEL}=1"}):
        try:
            try:
                expires = float(c.labels.get("r2e.expires") or "inf")
            except ValueError:
                expires = float("inf")
            if all_containers or c.status != "running" or expires < now:
                c.remove(force=True)
                removed += 1
        except Exception:
            continue
    return removed
