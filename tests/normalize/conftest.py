"""The Docker fixtures of tests/installers (a reachable engine, the minimal local base), shared here."""

import tests.installers.conftest as _installers

docker_base = _installers.docker_base  # a fixture, found by name
