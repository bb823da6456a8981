"""Docker fixtures: one small base image for the whole test session, built once and reused if present."""

from __future__ import annotations

import shutil

import pytest


@pytest.fixture(scope="session")
def docker_base(docker_client) -> str:
    """r2e-base:py3.11-slim (python3 + venv + uv + git, no compilers): ~45 s to build the first time."""
    from installers.images import BaseSpec, image_exists

    spec = BaseSpec("3.11", minimal=True)
    if image_exists(docker_client, spec.name):
        return spec.name
    if shutil.which("debootstrap") is None:
        pytest.fail("debootstrap is needed to build the test base image: apt-get install -y debootstrap")
    from installers.backends import ensure_base

    return ensure_base(docker_client, "3.11", minimal=True)
