"""A minimal container Environment for the harness's Docker tests (the product backend is issue 6's).

It exists so the runner and the genexec loop are exercised inside a real container now; it is
test infrastructure only, labelled and removed in close().
"""

from __future__ import annotations

import io
import os
import tarfile
import time
from pathlib import Path

from installers.environment import Environment, ExecResult, clip_output

LABEL = {"r2e-test": "harness"}


def find_python_image(client) -> str | None:
    """An image with python3 >= 3.10: $R2E_TEST_PYTHON_IMAGE, else a local r2e base image."""
    wanted = os.environ.get("R2E_TEST_PYTHON_IMAGE")
    if wanted:
        return wanted
    for image in client.images.list(filters={"label": "r2e=base"}):
        for tag in image.tags:
            try:
                out = client.containers.run(tag, ["python3", "-c", "import sys; print(sys.version_info >= (3, 10))"],
                                            remove=True, network_disabled=True)
            except Exception:  # noqa: BLE001 - an unusable image is simply not chosen
                continue
            if out.strip() == b"True":
                return tag
    return None


class ContainerEnvironment(Environment):
    def __init__(self, client, image: str, workdir: str = "/testbed", venv: str = "/usr",
                 extra_env: dict[str, str] | None = None):
        self.workdir, self.venv, self.extra_env = workdir, venv, dict(extra_env or {})
        self.container = client.containers.run(
            image, ["sleep", "900"], detach=True, labels=LABEL, network_disabled=True,
            mem_limit="1g", pids_limit=512)
        self.execute(f"mkdir -p {workdir}", cwd="/")

    @property
    def python(self) -> str:
        return f"{self.venv}/bin/python3"

    def execute(self, command, cwd=None, timeout=None, env=None) -> ExecResult:
        start = time.monotonic()
        limit = int(timeout or 600)
        res = self.container.exec_run(["timeout", "-s", "KILL", str(limit), "bash", "-lc", command],
                                      workdir=cwd or self.workdir, environment={**self.extra_env, **(env or {})})
        timed_out = res.exit_code == 137 and time.monotonic() - start >= limit - 1
        return ExecResult(-1 if timed_out else res.exit_code, clip_output((res.output or b"").decode("utf-8", "replace")),
                          timed_out, time.monotonic() - start)

    def copy_to(self, src: Path, dest: str) -> None:
        src = Path(src)
        parent, name = os.path.split(dest.rstrip("/"))
        self.execute(f"mkdir -p {parent}", cwd="/")
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            tar.add(src, arcname=name)
        self.container.put_archive(parent, buf.getvalue())

    def copy_from(self, src: str, dest: Path) -> None:
        stream, _ = self.container.get_archive(src)
        data = io.BytesIO(b"".join(stream))
        with tarfile.open(fileobj=data) as tar:
            member = tar.getmembers()[0]
            fh = tar.extractfile(member)
            if fh is None:
                raise OSError(f"{src} is not a file")
            Path(dest).parent.mkdir(parents=True, exist_ok=True)
            Path(dest).write_bytes(fh.read())

    def close(self) -> None:
        container, self.container = getattr(self, "container", None), None
        if container is not None:
            container.remove(force=True)
