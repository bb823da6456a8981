"""R2E-Gym's `search` tool, run inside the environment by its own python3 (standard library, 3.8+).

Usage: python3 search.py < base64(JSON {"search_term": ..., "path": ...}), cwd = the repository.
A directory is walked (hidden entries skipped) and matches are counted per file; a file is
searched line by line. Messages match R2E-Gym's tool.
"""

import base64
import json
import os
import sys

MAX_FILES = 100


def search_in_directory(term, directory):
    directory = os.path.realpath(directory)
    if not os.path.isdir(directory):
        print("Directory '%s' not found or not a directory." % directory)
        return 1
    matches = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            path = os.path.join(root, name)
            try:
                with open(path, "r", errors="ignore") as fh:
                    count = sum(1 for line in fh if term in line)
            except (OSError, UnicodeDecodeError):
                continue
            if count:
                matches.append((path, count))
    if not matches:
        print('No matches found for "%s" in %s' % (term, directory))
        return 0
    if len(matches) > MAX_FILES:
        print('More than %d files matched for "%s" in %s. Please narrow your search.' % (len(matches), term, directory))
        return 0
    print('Found %d matches for "%s" in %s:' % (sum(c for _, c in matches), term, directory))
    for path, count in matches:
        rel = os.path.relpath(path, start=os.getcwd())
        if not rel.startswith("./"):
            rel = "./" + rel
        print("%s (%d matches)" % (rel, count))
    print('End of matches for "%s" in %s' % (term, directory))
    return 0


def search_in_file(term, path):
    path = os.path.realpath(path)
    hits = []
    with open(path, "r", errors="ignore") as fh:
        for number, line in enumerate(fh, 1):
            if term in line:
                hits.append("%d:%s" % (number, line.rstrip("\n")))
    if not hits:
        print('No matches found for "%s" in %s' % (term, path))
        return 0
    print('Matches for "%s" in %s:' % (term, path))
    print("\n".join(hits))
    return 0


def main():
    if hasattr(sys.stdout, "buffer"):
        import io
        sys.stdout = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", errors="replace")
    params = json.loads(base64.b64decode(sys.stdin.read().strip()).decode("utf-8"))
    term = params.get("search_term")
    if term is None or str(term) == "":
        print("ERROR: Missing required parameter 'search_term'.")
        return 2
    term, path = str(term), str(params.get("path") or ".")
    if os.path.isfile(path):
        return search_in_file(term, path)
    return search_in_directory(term, path)


if __name__ == "__main__":
    sys.exit(main())
