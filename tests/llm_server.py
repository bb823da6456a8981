"""A scripted OpenAI-compatible chat server on loopback: the only test double, speaking real HTTP.

Usage in a test::

    def test_x(llm_server):
        llm_server.script("first reply", {"status": 429}, lambda body: "computed reply")
        config = LLMConfig(model="scripted", base_url=llm_server.base_url)
"""

from __future__ import annotations

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
        if isinstance(reply, dict):
            headers = {"retry-after": str(reply["retry_after"])} if "retry_after" in reply else {}
            return _error(reply.get("status", 500), reply.get("message", "scripted failure"), headers)
        text = reply(body) if callable(reply) else reply
        n = int(body.get("n") or 1)
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
        payload: dict[str, Any] = {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "scripted"),
            "choices": [
                {"index": i, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                for i in range(n)
            ],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": len(text.split()) * n,
                      "total_tokens": prompt_tokens + len(text.split()) * n},
        }
        return Response(json.dumps(payload), status=200, content_type="application/json")


def _error(status: int, message: str, headers: dict | None = None) -> Response:
    body = {"error": {"message": message, "type": "scripted", "code": status}}
    return Response(json.dumps(body), status=status, content_type="application/json", headers=headers or {})


@pytest.fixture
def llm_server(httpserver, monkeypatch) -> ScriptedLLM:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("R2E_MODEL", raising=False)
    return ScriptedLLM(httpserver)
