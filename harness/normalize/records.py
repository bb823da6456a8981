"""The records of a normalisation: one instance as read, and what became of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# The closed set of reasons an instance is not transferred (summary.json, <stem>_failed.json).
REASONS = (
    "invalid_instance",     # the row lacks a field or has one of the wrong type
    "repo_unavailable",     # no local copy of the repository at base_commit, and no network to clone
    "base_unavailable",     # FROM cannot be pulled and no local R2E base matches it
    "build_failed",         # the Dockerfile does not build
    "testbed_layout",       # no git repository at /testbed at base_commit, and none to move there
    "dirty_worktree",       # git status is not empty after the build or an eval, and excludes cannot fix it
    "eval_timeout",         # the eval script runs longer than --eval-timeout
    "eval_no_tests",        # the eval log names no test with a status
    "patch_failed",         # patch or test_patch does not apply to base_commit
    "gold_fails",           # with the gold patch a FAIL_TO_PASS test does not pass, or a PASS_TO_PASS test breaks
    "p2p_fails",            # with no patch to judge by, a PASS_TO_PASS test does not pass at base_commit
    "empty_passes",         # without the gold patch a FAIL_TO_PASS test passes
    "all_flaky",            # every FAIL_TO_PASS test is flaky: nothing left to judge by
    "internal_error",       # a bug or an engine failure: the message says which
)


@dataclass(frozen=True)
class Instance:
    instance_id: str
    repo: str
    base_commit: str
    dockerfile: str | None
    docker_image: str | None
    eval_script: str
    patch: str = ""
    test_patch: str = ""
    fail_to_pass: tuple[str, ...] | None = None
    pass_to_pass: tuple[str, ...] | None = None
    raw: dict[str, Any] = field(default_factory=dict)  # the row as given: carried into the outputs

    @property
    def repo_name(self) -> str:
        return self.repo.rstrip("/").removesuffix(".git").rsplit("/", 1)[-1]


@dataclass(frozen=True)
class BadRow:
    index: int
    instance_id: str
    reason: str  # one line
    raw: dict[str, Any] = field(default_factory=dict)  # the row, when it was an object


class CheckFailed(Exception):
    """A check failed with a reason from REASONS; `detail` is one line for people."""

    def __init__(self, reason: str, detail: str):
        assert reason in REASONS, reason
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail
