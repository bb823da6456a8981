"""A scripted OpenAI-compatible chat server on loopback: the only test double, speaking real HTTP.

Usage in a test::

    def test_x(llm_server):
        llm_server.script("first reply", {"status": 429}, lambda body: "computed reply")
        config = LLMConfig(model="scripted", base_url=llm_server.base_url)

A reply may also call tools: {"tool_calls": [{"name": "execute_bash", "arguments": {"cmd": "ls"}}],
"content": "thinking"} answers with an OpenAI tool-call message (finish_reason "tool_calls");
`arguments` given as a string is sent verbatim (to script malformed JSON).
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any, Callable

import pytest
from werkzeug import Request, Response

Reply = str | dict | Callable[[dict], str]


class ScriptedLLM:
    def __init__(self, httpserver):
        self.httpserver = httpserver
        self.replies: list[Reply] = []
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self.default: Reply | None = None
        httpserver.expect_request("/v1/chat/completions", method="POST").respond_with_handler(self._handle)

    @property
    def base_url(self) -> str:
        return self.httpserver.url_for("/v1")

    def script(self, *replies: Reply) -> "ScriptedLLM":
        """Queue replies: a text, {"status": 429|500|401, "retry_after": s}, or fn(request body) -> text."""
        self.replies.extend(replies)
        return self

    def _handle(self, request: Request) -> Response:
        body = json.loads(request.get_data(as_text=True))
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        reply = self.replies.pop(0) if self.replies else self.default
        if reply is None:
            return _error(400, "scripted LLM has no more replies")
        if callable(reply):
            reply = reply(body)
        if isinstance(reply, dict) and "tool_calls" not in reply:
            headers = {"retry-after": str(reply["retry_after"])} if "retry_after" in reply else {}
            return _error(reply.get("status", 500), reply.get("message", "scripted failure"), headers)
        message, finish, text = _assistant_message(reply)
        n = int(body.get("n") or 1)
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
        payload: dict[str, Any] = {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "scripted"),
            "choices": [
                {"index": i, "message": message, "finish_reason": finish}
                for i in range(n)
            ],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": len(text.split()) * n,
                      "total_tokens": prompt_tokens + len(text.split()) * n},
        }
        return Response(json.dumps(payload), status=200, content_type="application/json")


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


@pytest.fixture
def llm_server(httpserver, monkeypatch) -> ScriptedLLM:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("R2E_MODEL", raising=False)
    return ScriptedLLM(httpserver)
