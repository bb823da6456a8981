"""R2E-Gym's `file_editor` tool, run inside the environment by the environment's own python3.

Standard library only and Python 3.8 compatible: it runs in whatever interpreter the image has.
Usage: python3 file_editor.py STATE_FILE < base64(JSON parameters)
The parameters are the tool call's (`command`, `path`, `file_text`, `old_str`, `new_str`,
`insert_line`, `view_range`, `concise`); text-mode calls give every value as a string, so values
are coerced here as R2E-Gym's argparse front end does. Messages match R2E-Gym's tool word for word
so checkpoints trained on it read familiar output. Undo history lives in STATE_FILE (outside the
repository, so it never shows up in the diff).
"""

import ast
import base64
import json
import os
import subprocess
import sys
from collections import defaultdict

SNIPPET_LINES = 4
MAX_RESPONSE_LEN = 10000
CONCISE_AFTER_LINES = 110
TRUNCATED_MESSAGE = (
    "<response clipped><NOTE>To save on context only part of this file has been "
    "shown to you. You should retry this tool after you have searched inside the file "
    "with `grep -n` in order to find the line numbers of what you are looking for.</NOTE>"
)


class EditorError(Exception):
    pass


def maybe_truncate(content, truncate_after=MAX_RESPONSE_LEN):
    if not truncate_after or len(content) <= truncate_after:
        return content
    return content[:truncate_after] + TRUNCATED_MESSAGE


def load_history(state_file):
    try:
        with open(state_file, "r", encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return {}


def save_history(state_file, history):
    try:
        with open(state_file, "w", encoding="utf-8") as fh:
            json.dump(history, fh)
    except OSError as exc:
        print("Warning: Could not write editor history to %s: %s" % (state_file, exc))


def read_text(path):
    data = open(path, "rb").read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # never fails; keeps every byte


def write_text(path, text):
    try:
        with open(path, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
    except OSError as exc:
        raise EditorError("Failed to write file %s: %s" % (path, exc))


def make_output(file_content, file_descriptor, init_line=1):
    file_content = maybe_truncate(file_content).expandtabs()
    numbered = "\n".join("%6d\t%s" % (i + init_line, line) for i, line in enumerate(file_content.split("\n")))
    return "Here's the result of running `cat -n` on %s:\n%s\n" % (file_descriptor, numbered)


def elided_lines(path, text):
    """(zero-based index, text) of the file with long function bodies and class docstrings elided."""
    try:
        tree = ast.parse(text, filename=path)
    except SyntaxError as exc:
        raise EditorError("Syntax error for file %s: %s" % (path, exc))
    ranges = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            start = node.body[0].lineno - 1
            end = (getattr(node.body[-1], "end_lineno", None) or node.body[-1].lineno) - 1
            if end - start >= 3:
                ranges.append((start, end))
        if isinstance(node, ast.ClassDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(getattr(first, "value", None), ast.Constant) \
                    and isinstance(first.value.value, str):
                d_start, d_end = first.lineno - 1, (getattr(first, "end_lineno", None) or first.lineno) - 1
                if d_end - d_start >= 4:
                    ranges.append((d_start + 1, d_end - 1))
    skip = set(i for start, end in ranges for i in range(start, end + 1))
    notes = [(start, "... eliding lines %d-%d ..." % (start + 1, end + 1)) for start, end in ranges]
    keep = [(i, line) for i, line in enumerate(text.splitlines()) if i not in skip]
    return sorted(notes + keep, key=lambda item: item[0])


def view(path, view_range, concise):
    if os.path.isdir(path):
        proc = subprocess.run(["find", path, "-maxdepth", "2", "-not", "-path", "*/.*"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
        if proc.stderr.strip():
            raise EditorError(proc.stderr.strip())
        listing = "\n".join(sorted(proc.stdout.splitlines())) + "\n"
        return maybe_truncate("Here's the files and directories up to 2 levels deep in %s, excluding hidden:\n%s"
                              % (path, listing))
    text = read_text(path)
    if path.endswith(".py") and not view_range and not concise and len(text.splitlines()) > CONCISE_AFTER_LINES:
        concise = True
    if path.endswith(".py") and concise:
        lines = elided_lines(path, text)
    else:
        concise = False
        lines = list(enumerate(text.splitlines()))
    total = len(lines)
    if view_range:
        if len(view_range) != 2:
            raise EditorError("Invalid view_range %s: expected [start_line, end_line]" % (view_range,))
        start, end = view_range
        if not 1 <= start <= max(total, 1):
            raise EditorError("Invalid view_range %s: start line must be in [1, %d]" % (view_range, total))
        if end != -1 and (end < start or end > total):
            raise EditorError("Invalid view_range %s: end must be >= start and <= %d, or -1 to view until end."
                              % (view_range, total))
        lines = [(i, t) for i, t in lines if i + 1 >= start and (end == -1 or i + 1 <= end)]
    if concise:
        head = ("Here is a condensed view for file: %s; [Note: Useful for understanding file structure in a concise "
                "manner. Please use specific view_range without concise cmd if you want to explore further into the "
                "relevant parts.]\n" % path)
    else:
        head = "Here's the result of running `cat -n` on the file: %s:\n" % path
    return maybe_truncate(head + "\n".join("%6d %s" % (i + 1, t) for i, t in lines))


def create(path, file_text, history):
    if file_text is None:
        raise EditorError("Cannot create file without 'file_text' parameter.")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        os.makedirs(parent)
    write_text(path, file_text)
    history[path].append("")
    return ("File created at %s. " % path + make_output(file_text, path)
            + "Review the file and make sure that it is as expected. Edit the file if necessary.")


def str_replace(path, old_str, new_str, history):
    if old_str is None:
        raise EditorError("Missing required parameter 'old_str' for 'str_replace'.")
    content = read_text(path)
    count = content.count(old_str) if old_str else 0
    if count == 0:
        raise EditorError("No occurrences of '%s' found in %s for replacement." % (old_str, path))
    if count > 1:
        raise EditorError("Multiple occurrences of '%s' found in %s. Please ensure it is unique before using "
                          "str_replace." % (old_str, path))
    new_str = new_str or ""
    updated = content.replace(old_str, new_str)
    history[path].append(content)
    write_text(path, updated)
    line = content.split(old_str)[0].count("\n")
    start = max(0, line - SNIPPET_LINES)
    end = line + SNIPPET_LINES + new_str.count("\n")
    snippet = "\n".join(updated.split("\n")[start:end + 1])
    return ("The file %s has been edited. " % path + make_output(snippet, "a snippet of %s" % path, start + 1)
            + "Review the changes and make sure they are as expected. Edit the file again if necessary.")


def insert(path, insert_line, new_str, history):
    if new_str is None:
        raise EditorError("Missing required parameter 'new_str' for 'insert'.")
    if insert_line is None:
        raise EditorError("Missing required parameter 'insert_line' for 'insert'.")
    old = read_text(path)
    lines = old.split("\n")
    if insert_line < 0 or insert_line > len(lines):
        raise EditorError("Invalid insert_line %d. Must be in [0, %d]." % (insert_line, len(lines)))
    new_lines = new_str.split("\n")
    updated = "\n".join(lines[:insert_line] + new_lines + lines[insert_line:])
    history[path].append(old)
    write_text(path, updated)
    snippet = "\n".join(lines[max(0, insert_line - SNIPPET_LINES):insert_line] + new_lines
                        + lines[insert_line:insert_line + SNIPPET_LINES])
    return ("The file %s has been edited. " % path
            + make_output(snippet, "a snippet of the edited file", max(1, insert_line - SNIPPET_LINES + 1))
            + "Review the changes and make sure they are as expected (correct indentation, no duplicate lines, etc). "
              "Edit the file again if necessary.")


def undo_edit(path, history):
    if not history[path]:
        raise EditorError("No previous edits found for %s to undo." % path)
    old = history[path].pop()
    write_text(path, old)
    return "Last edit to %s undone successfully. " % path + make_output(old, path)


def as_int(value, name):
    if value is None or value == "":
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        raise EditorError("Invalid %s: %r is not an integer." % (name, value))


def as_range(value):
    if value is None or value == "":
        return None
    if isinstance(value, (list, tuple)):
        parts = list(value)
    else:
        parts = str(value).strip().strip("[]()").replace(",", " ").split()
    try:
        return [int(p) for p in parts]
    except (TypeError, ValueError):
        raise EditorError("Invalid view_range %r: expected two integers." % (value,))


def as_bool(value):
    return value is True or str(value).strip().lower() == "true"


def run(params, history):
    command = str(params.get("command") or "")
    path = params.get("path")
    if not path:
        raise EditorError("Missing required parameter 'path'.")
    path = str(path)
    if command == "create":
        if os.path.exists(path):
            raise EditorError("File already exists at: %s. Cannot overwrite with 'create'." % path)
    elif command in ("view", "str_replace", "insert", "undo_edit"):
        if not os.path.exists(path):
            raise EditorError("The path '%s' does not exist." % path)
        if os.path.isdir(path) and command != "view":
            raise EditorError("The path '%s' is a directory. Only 'view' can be used on directories." % path)
    key = os.path.abspath(path)
    if command == "view":
        return view(path, as_range(params.get("view_range")), as_bool(params.get("concise")))
    if command == "create":
        return create(path, params.get("file_text"), _Keyed(history, key))
    if command == "str_replace":
        return str_replace(path, params.get("old_str"), params.get("new_str"), _Keyed(history, key))
    if command == "insert":
        return insert(path, as_int(params.get("insert_line"), "insert_line"), params.get("new_str"),
                      _Keyed(history, key))
    if command == "undo_edit":
        return undo_edit(path, _Keyed(history, key))
    raise EditorError("Unrecognized command '%s'. Allowed commands: view, create, str_replace, insert, undo_edit."
                      % command)


class _Keyed(object):
    """history[path] for any path spelling: edits are remembered under the absolute path."""

    def __init__(self, history, key):
        self.history, self.key = history, key

    def __getitem__(self, _path):
        return self.history[self.key]


def main():
    if hasattr(sys.stdout, "buffer"):
        import io
        sys.stdout = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", errors="replace")
    state_file = sys.argv[1]
    params = json.loads(base64.b64decode(sys.stdin.read().strip()).decode("utf-8"))
    history = defaultdict(list, load_history(state_file))
    try:
        print(run(params, history))
    except EditorError as exc:
        print("ERROR: %s" % exc)
    except Exception as exc:  # the model sees the failure; the step goes on
        print("ERROR: Unhandled exception: %s: %s" % (type(exc).__name__, exc))
    save_history(state_file, dict(history))


if __name__ == "__main__":
    main()
