"""The Docker fixtures of tests/installers (a reachable engine, the minimal local base), shared here."""

from tests.installers.conftest import docker_base  # noqa: F401  (a fixture, used by name)
