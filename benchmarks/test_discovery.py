"""Measure test-command discovery over a folder of real upstream source trees.

    python benchmarks/test_discovery.py /tmp/disc-trees [--json]

Prints, per repository: the runner, the command of record and the source it came from; --json
prints the full records (candidates and skipped sources included). A measurement, not a test:
compare each command with what the project's CI file runs.
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from installers.test_discovery import discover_test_command  # noqa: E402


def main(argv: list[str]) -> int:
    if not argv or not Path(argv[0]).is_dir():
        print("usage: python benchmarks/test_discovery.py TREES_FOLDER [--json]", file=sys.stderr)
        return 2
    as_json = "--json" in argv
    records = []
    for repo in sorted(p for p in Path(argv[0]).iterdir() if p.is_dir()):
        tc = discover_test_command(repo)
        records.append({"repo": repo.name, **tc.to_dict()})
        if not as_json:
            print(f"{repo.name:<16} {tc.runner:<9} {tc.command}\n{'':<16} {'':<9} source: {tc.source}")
            if tc.plugins_needed:
                print(f"{'':<26} plugins: {', '.join(tc.plugins_needed)}")
            for s in tc.skipped:
                print(f"{'':<26} skipped {s.source}: {s.reason}")
    if as_json:
        print(json.dumps(records, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
