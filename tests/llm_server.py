"""A scripted OpenAI-compatible chat server on loopback: the only test double, speaking real HTTP.

Usage in a test::

    def test_x(llm_server):
        llm_server.script("first reply", {"status": 429}, lambda body: "computed reply")
        config = LLMConfig(model="scripted", base_url=llm_server.base_url)

Replies, one per request, in order (then `default`, if set):
- a text, or fn(request body) -> text or a reply dict: a normal answer (streamed as server-sent events when asked);
- {"tool_calls": [{"name": "execute_bash", "arguments": {"cmd": "ls"}}], "content": "thinking"}: an OpenAI
  tool-call message (finish_reason "tool_calls"; streamed as delta chunks when asked); ids are derived from the
  call, so the same script gives the same chat; `arguments` given as a string is sent verbatim (malformed JSON);
- {"status": 429|500|401|400, "retry_after": s, "message": m}: an error status;
- {"text": t, "finish_reason": "length"}: an answer cut at max_tokens;
- {"hang": True}: accept the request and never answer (until the test ends);
- {"slow": t, "delay": s}: answer t word by word, s seconds between chunks (a slow but live server);
- {"stall": t}: send the first word, then go silent (until the test ends);
- {"body": raw, "content_type": ct}: a 200 with this raw body (not JSON, truncated JSON...);
- {"json": obj}: a 200 with this JSON body (no choices, choices without message...);
- {"sse": [data, ...]}: a 200 event stream with these raw data lines (broken chunks).
The server is threaded, so a hanging request does not block the next one.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from typing import Any, Callable

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

Reply = str | dict | Callable[[dict], str | dict]
HANG_LIMIT = 60.0  # a hanging handler is released by the test's end, at the latest after this


class ScriptedLLM:
    def __init__(self, httpserver):
        self.httpserver = httpserver
        self.replies: list[Reply] = []
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self.default: Reply | None = None
        self.release = threading.Event()  # set when the test ends: hanging replies return
        httpserver.expect_request("/v1/chat/completions", method="POST").respond_with_handler(self._handle)

    @property
    def base_url(self) -> str:
        return self.httpserver.url_for("/v1")

    def script(self, *replies: Reply) -> "ScriptedLLM":
        """Queue replies (see the module's doc for the kinds)."""
        self.replies.extend(replies)
        return self

    def _handle(self, request: Request) -> Response:
        body = json.loads(request.get_data(as_text=True))
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        reply = self.replies.pop(0) if self.replies else self.default
        if reply is None:
            return _error(400, "scripted LLM has no more replies")
        stream = bool(body.get("stream"))
        if callable(reply):
            reply = reply(body)
        if isinstance(reply, dict):
            if reply.get("hang"):
                self.release.wait(HANG_LIMIT)
                return _error(504, "released at the end of the test")
            if "body" in reply:
                return Response(reply["body"], status=200, content_type=reply.get("content_type", "application/json"))
            if "json" in reply:
                return Response(json.dumps(reply["json"]), status=200, content_type="application/json")
            if "sse" in reply:
                events = "".join(f"data: {line}\n\n" for line in reply["sse"])
                return Response(events, status=200, content_type="text/event-stream")
            if "slow" in reply or "stall" in reply:
                return self._answer(body, reply.get("slow", reply.get("stall")), stream, "stop",
                                    delay=float(reply.get("delay", 0.0)), stall="stall" in reply)
            if "text" in reply:
                return self._answer(body, reply["text"], stream, reply.get("finish_reason", "stop"))
            if "tool_calls" in reply:
                return self._answer(body, reply, stream, "tool_calls")
            headers = {"retry-after": str(reply["retry_after"])} if "retry_after" in reply else {}
            return _error(reply.get("status", 500), reply.get("message", "scripted failure"), headers)
        return self._answer(body, reply, stream, "stop")

    def _answer(self, body: dict, reply: str | dict, stream: bool, finish: str, delay: float = 0.0,
                stall: bool = False) -> Response:
        message, tool_finish, text = _assistant_message(reply)
        if message.get("tool_calls"):
            finish = tool_finish
        n = int(body.get("n") or 1)
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": len(text.split()) * n,
                 "total_tokens": prompt_tokens + len(text.split()) * n}
        head: dict[str, Any] = {"id": f"chatcmpl-{len(self.requests)}", "created": int(time.time()),
                                "model": body.get("model", "scripted")}
        content = message.get("content") or ""
        if not stream:
            time.sleep(delay * len(content.split(" ")))
            if stall:
                self.release.wait(HANG_LIMIT)
            payload = {**head, "object": "chat.completion", "usage": usage, "choices": [
                {"index": i, "message": message, "finish_reason": finish} for i in range(n)]}
            return Response(json.dumps(payload), status=200, content_type="application/json")

        def chunk(i: int, delta: dict, finish_reason: str | None = None) -> str:
            return _event({**head, "object": "chat.completion.chunk",
                           "choices": [{"index": i, "delta": delta, "finish_reason": finish_reason}]})

        def events():
            # A plain answer always streams its text (even an empty one); a tool call only its content, if any.
            words = content.split(" ") if content or not message.get("tool_calls") else []
            for k, word in enumerate(words):
                piece = word if k == 0 else " " + word
                for i in range(n):
                    yield chunk(i, {"role": "assistant", "content": piece})
                if stall:
                    self.release.wait(HANG_LIMIT)
                    return
                if delay and k < len(words) - 1:
                    time.sleep(delay)
            for j, call in enumerate(message.get("tool_calls") or []):
                for i in range(n):  # one chunk per call: id, type, name and the whole arguments
                    yield chunk(i, {"role": "assistant", "tool_calls": [
                        {"index": j, "id": call["id"], "type": "function",
                         "function": {"name": call["function"]["name"],
                                      "arguments": call["function"]["arguments"]}}]})
            for i in range(n):
                yield chunk(i, {}, finish)
            if (body.get("stream_options") or {}).get("include_usage"):
                yield _event({**head, "object": "chat.completion.chunk", "choices": [], "usage": usage})
            yield "data: [DONE]\n\n"

        return Response(events(), status=200, content_type="text/event-stream")


def _event(data: dict) -> str:
    return f"data: {json.dumps(data)}\n\n"


def _assistant_message(reply: str | dict) -> tuple[dict, str, str]:
    """(OpenAI assistant message, finish_reason, the text its completion tokens are counted on)."""
    if isinstance(reply, str):
        return {"role": "assistant", "content": reply}, "stop", reply
    calls = []
    for i, call in enumerate(reply["tool_calls"]):
        args = call.get("arguments", {})
        args = args if isinstance(args, str) else json.dumps(args)
        # Ids derived from the call itself, so the same script gives the same chat every run.
        digest = hashlib.sha1(f"{i}:{call['name']}:{args}".encode()).hexdigest()[:16]
        calls.append({"id": f"call_{digest}", "type": "function",
                      "function": {"name": call["name"], "arguments": args}})
    content = reply.get("content")
    text = " ".join([content or ""] + [c["function"]["arguments"] for c in calls])
    return {"role": "assistant", "content": content, "tool_calls": calls}, "tool_calls", text


def _error(status: int, message: str, headers: dict | None = None) -> Response:
    body = {"error": {"message": message, "type": "scripted", "code": status}}
    return Response(json.dumps(body), status=status, content_type="application/json", headers=headers or {})


@pytest.fixture(scope="session")
def llm_http_server():
    """One threaded server for the session (a hanging request must not block the next one)."""
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


@pytest.fixture
def llm_server(llm_http_server, monkeypatch) -> ScriptedLLM:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("R2E_MODEL", raising=False)
    llm_http_server.clear()
    scripted = ScriptedLLM(llm_http_server)
    yield scripted
    scripted.release.set()
    llm_http_server.clear()
