"""The bundled scripted model: a deterministic OpenAI-compatible chat server on loopback.

It lets `r2e quickstart` (and anyone without an API key) drive the real agent loop, client and grader.
Replies come from a script, a list of entries::

    {"match": "<substring of the first user message>", "replies": [reply, ...]}

where a reply is a text or {"tool_calls": [{"name": ..., "arguments": {...}}], "content": "..."}.
The conversation is recognised by the first entry whose `match` is in the first user message (the
problem statement), and the step is the number of assistant messages the request already holds: the
server keeps no state, so parallel workers and resumed runs get the same answers. (Two tasks with
the same statement are one conversation to it: the first entry wins.) A conversation no
entry matches, or one past its last reply, gets a submission (the `finish` tool, or in text mode a
`<function=finish>` block; a mini-swe-agent chat its submit command), so every run ends.

Standard library only (http.server): it ships with the package and starts in milliseconds.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator, Mapping

from r2e.errors import R2EUsageError

MODEL_NAME = "scripted"
DEFAULT_WORKDIR = "/testbed"
MINI_SUBMIT = "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"
SUBMIT = {"tool_calls": [{"name": "finish", "arguments": {"command": "submit"}}],
          "content": "Nothing more to do: submitting."}
ARGUMENT_PIECES = 3  # streamed tool-call arguments come in this many deltas, as real servers split them

Reply = str | dict


# -- the script -----------------------------------------------------------------------------------
def check_script(script: Any, where: str = "script") -> list[dict]:
    """The script as a list of entries, or a one-line error naming what is wrong."""
    if isinstance(script, dict) and "entries" in script:
        script = script["entries"]
    if not isinstance(script, list):
        raise R2EUsageError(f"{where}: expected a list of {{\"match\", \"replies\"}} entries")
    for n, entry in enumerate(script, 1):
        if not isinstance(entry, dict) or not isinstance(entry.get("match"), str) \
                or not isinstance(entry.get("replies"), list):
            raise R2EUsageError(f"{where}: entry {n} needs a string `match` and a list `replies`")
        for reply in entry["replies"]:
            if isinstance(reply, str):
                continue
            calls = reply.get("tool_calls") if isinstance(reply, dict) else None
            if not isinstance(calls, list) or not all(isinstance(c, dict) and c.get("name") for c in calls):
                raise R2EUsageError(f"{where}: entry {n}: a reply is a text or {{\"tool_calls\": [{{\"name\", "
                                    f"\"arguments\"}}], \"content\"}}")
    return script


def load_script(path: str | Path) -> list[dict]:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise R2EUsageError(f"cannot read script {path}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise R2EUsageError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    return check_script(data, str(path))


def first_user_message(messages: list) -> str:
    for m in messages:
        if isinstance(m, dict) and m.get("role") == "user":
            return _text(m.get("content"))
    return ""


def choose_reply(script: list[dict], body: Mapping) -> Reply:
    """The reply to one request: the matching entry's reply at this step, else a submission."""
    messages = body.get("messages") or []
    first = first_user_message(messages)
    step = sum(1 for m in messages if isinstance(m, dict) and m.get("role") == "assistant")
    for entry in script:
        if entry["match"] in first:
            if step < len(entry["replies"]):
                return entry["replies"][step]
            break
    if not body.get("tools") and _is_mini(messages):
        return f"Submitting.\n\n```bash\n{MINI_SUBMIT}\n```"
    return SUBMIT


def _is_mini(messages: list) -> bool:
    system = next((_text(m.get("content")) for m in messages if isinstance(m, dict) and m.get("role") == "system"), "")
    return "COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT" in system


def _text(content: Any) -> str:
    if isinstance(content, list):  # content parts
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return "" if content is None else str(content)


def assistant_message(reply: Reply, fn_calling: bool) -> dict:
    """The OpenAI assistant message of a reply; tool calls become <function=...> text without tools."""
    if isinstance(reply, str):
        return {"role": "assistant", "content": reply}
    calls = reply.get("tool_calls") or []
    content = reply.get("content")
    if not fn_calling:
        blocks = [function_block(c["name"], c.get("arguments") or {}) for c in calls]
        return {"role": "assistant", "content": "\n\n".join([content or ""] + blocks).strip()}
    out = []
    for i, call in enumerate(calls):
        args = call.get("arguments", {})
        args = args if isinstance(args, str) else json.dumps(args)
        # Ids derived from the call: the same script gives the same chat, byte for byte.
        digest = hashlib.sha1(f"{i}:{call['name']}:{args}".encode()).hexdigest()[:24]
        out.append({"id": f"call_{digest}", "type": "function", "function": {"name": call["name"], "arguments": args}})
    return {"role": "assistant", "content": content, "tool_calls": out}


def function_block(name: str, arguments: Mapping | str) -> str:
    """R2E-Gym's text-mode action."""
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError:
            arguments = {}
    body = "".join(f"<parameter={k}>{v}</parameter>\n" for k, v in dict(arguments).items())
    return f"<function={name}>\n{body}</function>"


# -- the HTTP side --------------------------------------------------------------------------------
def _tokens(text: str) -> int:
    return len(re.findall(r"\w+|[^\w\s]", text))


def completion(script: list[dict], body: Mapping, serial: int) -> tuple[dict, list[dict]]:
    """(the non-streamed response, the streamed chunks) of one request."""
    reply = choose_reply(script, body)
    message = assistant_message(reply, fn_calling=bool(body.get("tools")))
    finish = "tool_calls" if message.get("tool_calls") else "stop"
    n = max(1, int(body.get("n") or 1))
    prompt = sum(_tokens(_text(m.get("content"))) for m in body.get("messages") or [] if isinstance(m, dict))
    said = (message.get("content") or "") + "".join(c["function"]["arguments"] for c in message.get("tool_calls") or [])
    completion_tokens = max(1, _tokens(said)) * n
    usage = {"prompt_tokens": prompt, "completion_tokens": completion_tokens,
             "total_tokens": prompt + completion_tokens}
    head = {"id": f"chatcmpl-scripted-{serial}", "created": int(time.time()),
            "model": str(body.get("model") or MODEL_NAME), "system_fingerprint": "r2e-scripted"}
    whole = {**head, "object": "chat.completion", "usage": usage,
             "choices": [{"index": i, "message": message, "finish_reason": finish, "logprobs": None}
                         for i in range(n)]}
    chunks: list[dict] = []

    def chunk(i: int, delta: dict, finish_reason: str | None = None) -> None:
        chunks.append({**head, "object": "chat.completion.chunk",
                       "choices": [{"index": i, "delta": delta, "finish_reason": finish_reason, "logprobs": None}]})

    for i in range(n):
        chunk(i, {"role": "assistant", "content": ""})
        content = message.get("content") or ""
        for piece in re.findall(r"\S*\s*", content):
            if piece:
                chunk(i, {"content": piece})
        for j, call in enumerate(message.get("tool_calls") or []):
            chunk(i, {"tool_calls": [{"index": j, "id": call["id"], "type": "function",
                                      "function": {"name": call["function"]["name"], "arguments": ""}}]})
            args = call["function"]["arguments"]
            size = max(1, -(-len(args) // ARGUMENT_PIECES))
            for k in range(0, len(args), size):
                chunk(i, {"tool_calls": [{"index": j, "function": {"arguments": args[k:k + size]}}]})
        chunk(i, {}, finish)
    if (body.get("stream_options") or {}).get("include_usage"):
        chunks.append({**head, "object": "chat.completion.chunk", "choices": [], "usage": usage})
    return whole, chunks


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: every body has a Content-Length
    server: "ScriptedServer"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the agent's own log says what happened
        return None

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, message: str) -> None:
        body = {"error": {"message": message, "type": "invalid_request_error", "code": status}}
        self._send(status, json.dumps(body).encode())

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            data = {"object": "list", "data": [{"id": MODEL_NAME, "object": "model", "created": 0, "owned_by": "r2e"}]}
            self._send(200, json.dumps(data).encode())
        else:
            self._error(404, f"no route {self.path}")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._error(404, f"no route {self.path}")
            return
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            self._error(400, "the request body is not JSON")
            return
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            self._error(400, "expected a JSON object with a `messages` list")
            return
        whole, chunks = completion(self.server.script, body, self.server.next_serial())
        if body.get("stream"):
            events = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
            self._send(200, events.encode(), "text/event-stream")
        else:
            self._send(200, json.dumps(whole).encode())


class ScriptedServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, script: list[dict], host: str = "127.0.0.1", port: int = 0):
        self.script = check_script(script)
        self._serial = 0
        self._lock = threading.Lock()
        super().__init__((host, port), _Handler)

    def next_serial(self) -> int:
        with self._lock:
            self._serial += 1
            return self._serial

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/v1"


@contextmanager
def serve(script: list[dict], host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve `script` in a background thread for the `with` block; yields the base URL (…/v1)."""
    server = ScriptedServer(script, host, port)
    thread = threading.Thread(target=server.serve_forever, name="r2e-scripted-model", daemon=True)
    thread.start()
    try:
        yield server.base_url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# -- scripts that fix a task ----------------------------------------------------------------------
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_DIFF_GIT = re.compile(r"^diff --git a/(.+) b/(.+)$")


def parse_diff(patch: str) -> list[dict]:
    """Per file of a unified (git) diff: {"old", "new" (paths, None for /dev/null), "hunks": [...]}, each
    hunk {"old_start", "old" (text of its context and removed lines), "new" (context and added lines)}.
    Hunk bodies are read by the line counts of their headers, so a removed line "-- x" is not a header."""
    files: list[dict] = []
    current: dict | None = None
    hunk: dict | None = None
    left = [0, 0]  # old and new lines the current hunk still has
    last: tuple[str, ...] = ()  # the side(s) the previous body line went to, for "\ No newline"
    for line in patch.splitlines(keepends=True):
        if hunk is not None and (left[0] > 0 or left[1] > 0):
            tag, text = line[:1], line[1:]
            if line in ("\n", "\r\n"):  # a context line whose blank was trimmed by an editor
                tag, text = " ", "\n"
            if not text.endswith("\n"):
                text += "\n"
            if tag == " ":
                hunk["old"].append(text)
                hunk["new"].append(text)
                left[0], left[1], last = left[0] - 1, left[1] - 1, ("old", "new")
            elif tag == "-":
                hunk["old"].append(text)
                left[0], last = left[0] - 1, ("old",)
            elif tag == "+":
                hunk["new"].append(text)
                left[1], last = left[1] - 1, ("new",)
            elif tag == "\\":
                _no_newline(hunk, last)
            continue
        if line.startswith("\\") and hunk is not None:  # "\ No newline at end of file" after the last line
            _no_newline(hunk, last)
            continue
        hunk = None
        m = _DIFF_GIT.match(line.rstrip("\n"))
        if m:
            current = {"old": m.group(1), "new": m.group(2), "hunks": []}
            files.append(current)
            continue
        if line.startswith("--- "):
            if current is None or current["hunks"]:
                current = {"old": None, "new": None, "hunks": []}
                files.append(current)
            current["old"] = _header_path(line[4:])
            continue
        if line.startswith("+++ ") and current is not None:
            current["new"] = _header_path(line[4:])
            continue
        m = _HUNK.match(line)
        if m and current is not None:
            hunk = {"old_start": int(m.group(1)), "old": [], "new": []}
            left = [int(m.group(2) or 1), int(m.group(4) or 1)]
            current["hunks"].append(hunk)
    for f in files:
        for h in f["hunks"]:
            h["old"], h["new"] = "".join(h["old"]), "".join(h["new"])
    return [f for f in files if f["hunks"] or f["old"] != f["new"]]


def _no_newline(hunk: dict, sides: tuple[str, ...]) -> None:
    for side in sides:
        if hunk[side]:
            hunk[side][-1] = hunk[side][-1][:-1] if hunk[side][-1].endswith("\n") else hunk[side][-1]


def _header_path(text: str) -> str | None:
    path = text.rstrip("\n").split("\t")[0].strip()
    if path == "/dev/null":
        return None
    return path[2:] if path[:2] in ("a/", "b/") else path


def fix_actions(patch: str, workdir: str = DEFAULT_WORKDIR) -> list[dict]:
    """R2E-Gym tool calls that turn the buggy tree into the fixed one, hunk by hunk (no submit)."""
    root = workdir.rstrip("/")
    calls: list[dict] = []
    for f in parse_diff(patch):
        if f["new"] is None:  # deleted by the fix
            calls.append({"name": "execute_bash", "arguments": {"cmd": f"rm -f {shlex.quote(f['old'])}"}})
            continue
        path = f"{root}/{f['new']}"
        if f["old"] is None:  # created by the fix
            text = "".join(h["new"] for h in f["hunks"])
            calls.append({"name": "file_editor", "arguments": {"command": "create", "path": path, "file_text": text}})
            continue
        calls.append({"name": "file_editor", "arguments": {"command": "view", "path": path}})
        for h in reversed(f["hunks"]):  # bottom up: an edit never moves the lines of the ones still to come
            if h["old"]:
                # The hunk's context lines around the removed ones make old_str unique in the file.
                calls.append({"name": "file_editor", "arguments": {
                    "command": "str_replace", "path": path, "old_str": h["old"], "new_str": h["new"]}})
            else:  # pure addition without context (diff -U0): after line old_start; the editor adds the newline
                text = h["new"][:-1] if h["new"].endswith("\n") else h["new"]
                calls.append({"name": "file_editor", "arguments": {
                    "command": "insert", "path": path, "insert_line": h["old_start"], "new_str": text}})
    return calls


def fix_script_for(instance: Any, workdir: str | None = None) -> dict:
    """The script entry that solves a task: view the file, one str_replace per hunk of its gold `patch`,
    then submit. `instance` is a tasks.jsonl row (dict), a TaskInstance or an agent AgentInstance.

    Paths are under `workdir` (default: the instance's, else /testbed); "." gives paths relative to the
    workdir, which the tools run in: what the local backend's throwaway copies need."""
    get = instance.get if isinstance(instance, Mapping) else (lambda k, d=None: getattr(instance, k, d))
    problem = str(get("problem_statement") or "")
    if not problem.strip():
        raise R2EUsageError(f"instance {get('instance_id', '?')} has no problem_statement to recognise it by")
    patch = str(get("patch") or "")
    root = workdir or str(get("workdir") or "") or DEFAULT_WORKDIR
    calls = fix_actions(patch, root)
    replies: list[Reply] = [{"content": f"Step {n}: applying the fix.", "tool_calls": [call]}
                            for n, call in enumerate(calls, 1)]
    replies.append({"content": "The fix is in: submitting.",
                    "tool_calls": [{"name": "finish", "arguments": {"command": "submit"}}]})
    return {"match": problem.strip(), "replies": replies}
