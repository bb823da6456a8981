"""Docker images without a registry: base images per Python version, repo images per install plan.

Base images are made locally: `debootstrap` of the Debian release that carries the wanted Python
into a folder, uv's static binary copied in, then `tar -C rootfs -c . | docker import - NAME`.
Where a registry is reachable, `python:X.Y-slim` can be used instead (`--from-registry`).
Repo images are committed from the container the install ran in, tagged by a hash of the plan.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from r2e.errors import R2EError, R2EUsageError

# Debian release carrying each Python as its python3.
RELEASES = {"3.9": "bullseye", "3.11": "bookworm", "3.13": "trixie"}
MIRROR = "http://deb.debian.org/debian"
# git: agents and graders diff /testbed, and task images apply patches with it
MINIMAL_PACKAGES = ["python3", "python3-venv", "ca-certificates", "git"]
# What repo installs usually need: compilers and headers for sdists, git for VCS pins.
FULL_PACKAGES = MINIMAL_PACKAGES + [
    "python3-dev", "build-essential", "pkg-config", "cmake", "make", "procps",
]
LABEL = "r2e"  # every image and container the toolkit makes carries this label key
REPO_IMAGE_PREFIX = "r2e-repo"


@dataclass(frozen=True)
class BaseSpec:
    python: str
    minimal: bool = False

    @property
    def release(self) -> str:
        try:
            return RELEASES[self.python]
        except KeyError:
            raise R2EUsageError(
                f"no base image recipe for Python {self.python}: choose one of {', '.join(sorted(RELEASES))}"
            ) from None

    @property
    def packages(self) -> list[str]:
        return MINIMAL_PACKAGES if self.minimal else FULL_PACKAGES

    @property
    def name(self) -> str:
        flavour = "-slim" if self.minimal else ""  # "-min" images, without git, are never reused
        return f"r2e-base:py{self.python}{flavour}"


def supported_pythons() -> list[str]:
    return sorted(RELEASES)


def nearest_python(version: str | None) -> str:
    """The base image Python closest to `version` (>= when possible)."""
    if not version or version not in RELEASES and not _parse(version):
        return "3.11"
    if version in RELEASES:
        return version
    want = _parse(version)
    candidates = sorted(RELEASES, key=_parse)
    for cand in candidates:
        if _parse(cand) >= want:
            return cand
    return candidates[-1]


def _parse(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in version.split(".")[:2])
    except ValueError:
        return ()


def image_exists(client, name: str) -> bool:
    import docker.errors

    try:
        client.images.get(name)
        return True
    except docker.errors.ImageNotFound:
        return False


def uv_binary() -> Path | None:
    """The uv executable shipped in the `uv` wheel (copied into images so containers need no index for it)."""
    try:
        import uv

        path = Path(uv.find_uv_bin())
        return path if path.exists() else None
    except Exception:
        found = shutil.which("uv")
        return Path(found) if found else None


def build_base(client, spec: BaseSpec, *, rebuild: bool = False, log=print,
               workdir: Path | None = None, from_registry: bool = False) -> str:
    """Make the base image `spec.name` unless it exists; return its name."""
    if not rebuild and image_exists(client, spec.name):
        log(f"base image {spec.name} exists")
        return spec.name
    if from_registry:
        return _from_registry(client, spec, log)
    if shutil.which("debootstrap") is None:
        raise R2EError("debootstrap is not installed: `apt-get install -y debootstrap` (or use --from-registry)")
    tmp = Path(tempfile.mkdtemp(prefix="r2e-rootfs-", dir=workdir))
    rootfs = tmp / "rootfs"
    try:
        cmd = ["debootstrap", "--variant=minbase", f"--include={','.join(spec.packages)}",
               spec.release, str(rootfs), MIRROR]
        log(f"debootstrap {spec.release} (Python {spec.python}) into {rootfs}")
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if proc.returncode != 0:
            raise R2EError(f"debootstrap {spec.release} failed: {proc.stdout.strip().splitlines()[-1:]}")
        _finish_rootfs(rootfs)
        log(f"docker import -> {spec.name}")
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        imp = subprocess.run(
            ["docker", "import", "--change", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
             "--change", "ENV LANG=C.UTF-8", "--change", f'LABEL {LABEL}=base',
             "--change", 'CMD ["bash"]', "-", spec.name],
            stdin=tar.stdout, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        tar.stdout.close()
        tar.wait()
        if imp.returncode != 0 or tar.returncode != 0:
            raise R2EError(f"docker import of {spec.name} failed: {imp.stdout.strip()}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return spec.name


def _finish_rootfs(rootfs: Path) -> None:
    """Trim caches, add uv, and make `python` resolve to python3."""
    for sub in ("var/cache/apt/archives", "var/lib/apt/lists"):
        d = rootfs / sub
        if d.is_dir():
            for entry in d.iterdir():
                if entry.is_file():
                    entry.unlink()
    uv = uv_binary()
    if uv is not None:
        target = rootfs / "usr/local/bin/uv"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(uv, target)
        os.chmod(target, 0o755)
    py = rootfs / "usr/local/bin/python"
    if not py.exists():
        py.symlink_to("/usr/bin/python3")


def _from_registry(client, spec: BaseSpec, log) -> str:
    """Where a registry answers: python:X.Y-slim plus uv, tagged with our base name."""
    image = f"python:{spec.python}-slim"
    log(f"pulling {image}")
    try:
        client.images.pull(image)
    except Exception as exc:
        raise R2EError(f"cannot pull {image} ({type(exc).__name__}); build it locally without --from-registry") from None
    dockerfile = f"FROM {image}\nRUN pip install --no-cache-dir uv\nLABEL {LABEL}=base\n"
    with tempfile.TemporaryDirectory() as ctx:
        Path(ctx, "Dockerfile").write_text(dockerfile)
        client.images.build(path=ctx, tag=spec.name, rm=True)
    return spec.name


def plan_hash(plan_dict: dict, base: str) -> str:
    blob = json.dumps({"plan": plan_dict, "base": base}, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def repo_image_name(repo_id: str, digest: str) -> str:
    safe = "".join(c if c.isalnum() or c in "._-" else "-" for c in repo_id.lower()).strip("-._") or "repo"
    return f"{REPO_IMAGE_PREFIX}-{safe}:{digest}"


def prune_dangling(client) -> int:
    """Remove dangling layers left by replaced repo images; return bytes reclaimed."""
    try:
        res = client.images.prune(filters={"dangling": True, "label": LABEL})  # only layers r2e made
        return int(res.get("SpaceReclaimed") or 0)
    except Exception:
        return 0
