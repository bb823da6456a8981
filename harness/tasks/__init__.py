"""Repository-level bug-fix task instances (`r2e tasks`), in SWE-bench / R2E-Gym / SWE-smith form.

Field meanings in tasks.jsonl (one `TaskInstance` per line):
- `base_commit`: the repository commit the environment holds (clean);
- `bug_patch`: the bug-introducing diff; applied to `base_commit` it gives the buggy tree an agent
  starts from (SWE-smith names this diff `patch`; we keep SWE-bench's meaning for `patch`);
- `patch`: the gold fix (the reverse of `bug_patch`), applied to the buggy tree;
- `test_patch`: hidden tests (empty for mutations: the repository's own tests catch the bug);
- `FAIL_TO_PASS` / `PASS_TO_PASS`: JSON-encoded lists of test ids as the eval script takes them;
- `docker_image` (R2E-Gym) and `image_name` (SWE-smith): the repository's image of record, clean.
So a consumer starts a container of `docker_image`, applies `bug_patch` in /testbed (`git apply`),
hands that tree to the agent, and grades by running `eval_script` with the F2P and P2P ids.
"""
