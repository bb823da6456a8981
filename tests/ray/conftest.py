"""The docker fixtures of the installer tests (a reachable engine, the small base image)."""

from tests.installers.conftest import docker_base

__all__ = ["docker_base"]
