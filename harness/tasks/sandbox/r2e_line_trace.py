"""Which lines of the repository's own files its tests execute: a line tracer that needs nothing installed.

Run by the repo's interpreter (standard library only, Python 3.8+):

    python r2e_line_trace.py OUT.json ROOT [EXCLUDE_DIR ...] -- -m pytest [ARGS ...]

Writes {"files": {relative path: [line, ...]}} for every file under ROOT (outside the exclusions)
that ran. Frames of other files are never traced line by line, so the suite slows down little.
"""

import json
import os
import runpy
import sys
import threading


def main(argv):
    if "--" not in argv or len(argv) < 3:
        sys.stderr.write("usage: r2e_line_trace.py OUT ROOT [EXCLUDE ...] -- -m MODULE [ARGS ...]\n")
        return 2
    split = argv.index("--")
    out, root, excluded = argv[0], os.path.realpath(argv[1]), [os.path.realpath(p) for p in argv[2:split]]
    target = argv[split + 1:]
    lines = {}
    wanted = {}

    def interesting(filename):
        known = wanted.get(filename)
        if known is None:
            path = os.path.realpath(filename) if filename and not filename.startswith("<") else ""
            known = bool(path) and path.startswith(root + os.sep) and not any(
                path == e or path.startswith(e + os.sep) for e in excluded)
            wanted[filename] = known
        return known

    def local(frame, event, arg):
        if event == "line":
            lines.setdefault(frame.f_code.co_filename, set()).add(frame.f_lineno)
        return local

    def tracer(frame, event, arg):
        if event != "call" or not interesting(frame.f_code.co_filename):
            return None
        lines.setdefault(frame.f_code.co_filename, set()).add(frame.f_lineno)
        return local

    def dump():
        files = {}
        for filename, seen in lines.items():
            rel = os.path.relpath(os.path.realpath(filename), root)
            files.setdefault(rel, set()).update(seen)
        with open(out, "w") as fh:
            json.dump({"files": {k: sorted(v) for k, v in sorted(files.items())}}, fh)

    code = 0
    sys.argv = [target[1] if target[:1] == ["-m"] else target[0]] + target[2 if target[:1] == ["-m"] else 1:]
    threading.settrace(tracer)
    sys.settrace(tracer)
    try:
        if target[:1] == ["-m"]:
            runpy.run_module(target[1], run_name="__main__", alter_sys=True)
        else:
            runpy.run_path(target[0], run_name="__main__")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.settrace(None)
        threading.settrace(None)
        dump()
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
