"""Chat completions from any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, OpenRouter, llama.cpp).

How a slow server is told from a dead one: answers are streamed, and `timeout` bounds the silence
before the first token and between two chunks, not the whole answer. A server that is generating
keeps sending chunks and is given its time (up to `request_budget`); one that accepts and says
nothing hits the timeout, and such "dead" failures (silence, refused or dropped connections) are
retried at most `dead_retries` times. Every misbehaviour of the server -- status errors, timeouts,
bodies that are not JSON, JSON without choices -- ends as an LLMError after bounded retries; and a
circuit breaker shared by the run stops all calls after `max_failures` failed calls in a row.
"""

from __future__ import annotations

import json
import random
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from r2e.llm.cache import ResponseCache, cache_key
from r2e.llm.config import LLMConfig
from r2e.llm.errors import LLMAuthError, LLMError, LLMUnavailable
from r2e.llm.redact import scrub, secrets_of

MAX_BACKOFF = 30.0

__all__ = ["ChatResult", "LLMAuthError", "LLMClient", "LLMError", "LLMUnavailable"]


@dataclass(frozen=True)
class ChatResult:
    texts: list[str]
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False
    model: str = ""
    truncated: bool = False  # some answer stopped at max_tokens (finish_reason "length")
    # The assistant message of each choice in OpenAI's format (role, content, tool_calls).
    messages: list[dict] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.texts[0] if self.texts else ""

    @property
    def message(self) -> dict:
        """The first choice's assistant message, ready to append to a chat history."""
        return self.messages[0] if self.messages else {"role": "assistant", "content": self.text}

    @property
    def tool_calls(self) -> list[dict]:
        """The first choice's tool calls ({id, type, function: {name, arguments}}), if any."""
        return list(self.message.get("tool_calls") or [])

    def to_dict(self) -> dict:
        return {"texts": self.texts, "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens, "model": self.model, "truncated": self.truncated,
                "messages": self.messages}


class _Failed(Exception):
    """One attempt failed in a way worth retrying. `dead`: the server gave no answer at all."""

    def __init__(self, message: str, dead: bool = False, retry_after: float = 0.0, final: bool = False):
        super().__init__(message)
        self.dead, self.retry_after, self.final = dead, retry_after, final


@dataclass
class LLMClient:
    config: LLMConfig
    sleep: Callable[[float], None] = time.sleep
    # Told once, by the call whose failure opens the circuit breaker (default: one line on stderr).
    notify: Callable[[str], None] | None = None
    _client: Any = field(default=None, init=False, repr=False)
    _cache: ResponseCache | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.config.cache_path is not None:
            self._cache = ResponseCache(self.config.cache_path)

    def _openai(self):
        if self._client is None:
            import openai

            # Retries are ours (bounded, logged per attempt); the SDK's own are turned off.
            timeout = openai.Timeout(self.config.timeout, connect=self.config.connect_timeout)
            self._client = openai.OpenAI(
                api_key=self.config.api_key(), base_url=self.config.base_url,
                timeout=timeout, max_retries=0,
            )
        return self._client

    def chat(self, messages: list[dict], n: int = 1, temperature: float = 0.0,
             max_tokens: int | None = None, purpose: str = "default", tools: list[dict] | None = None,
             **params: Any) -> ChatResult:
        """Complete `messages`; with `tools` (OpenAI function schemas) the reply may carry tool calls.
        `purpose` (generate, repair, statement, agent) picks the default max_tokens when none is given;
        other keyword arguments go into the request as they are."""
        params.pop("stream", None)  # the transport is ours
        request = {"n": n, "temperature": temperature, **params}
        if "max_completion_tokens" not in request:
            request["max_tokens"] = max_tokens if max_tokens is not None else self.config.max_tokens_for(purpose)
        if tools:
            request["tools"] = tools
        key = cache_key(self.config.model, messages, request)
        if self._cache is not None:
            hit = self._cache.get(key)
            if hit is not None:
                return ChatResult(hit["texts"], hit.get("prompt_tokens", 0), hit.get("completion_tokens", 0),
                                  True, hit.get("model", self.config.model), hit.get("truncated", False),
                                  hit.get("messages") or [])
        result = self._call_with_retries(messages, request)
        if self._cache is not None:
            self._cache.put(key, result.to_dict())
        return result

    # --- retries and the circuit breaker

    def _call_with_retries(self, messages: list[dict], request: dict) -> ChatResult:
        import openai

        cfg = self.config
        self._openai()  # a missing key is the user's to fix (R2EUsageError), not a reply to retry
        attempts = dead = 0
        while True:
            self._check_breaker()
            attempts += 1
            try:
                result = self._attempt(messages, request)
            except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
                self._failed(f"authentication failed: {_short(exc)}")
                raise LLMAuthError(self._say(f"authentication failed at {cfg.where}: {_short(exc)}")) from None
            except openai.RateLimitError as exc:
                failure = _Failed(_short(exc), retry_after=_retry_after(exc))
            except openai.InternalServerError as exc:  # 5xx: the server is there but failing
                failure = _Failed(_short(exc), retry_after=_retry_after(exc))
            except openai.APIStatusError as exc:  # 400, 404, 422: the request itself is wrong
                self.config.breaker.success()  # the server is alive and answered
                raise LLMError(self._say(f"{cfg.where} rejected the request: {_short(exc)}")) from None
            except openai.APITimeoutError:
                failure = _Failed(f"no answer within {cfg.timeout:g} s", dead=True)
            except openai.APIConnectionError as exc:
                failure = _Failed(f"cannot connect: {_short(exc)}", dead=True)
            except _Failed as exc:
                failure = exc
            except LLMError:
                raise
            except Exception as exc:  # noqa: BLE001 - whatever the SDK raised on a reply it could not read
                failure = _Failed(f"unreadable reply: {_short(exc)}")
            else:
                self.config.breaker.success()
                return result
            dead += failure.dead
            if failure.final or dead > cfg.dead_retries or attempts > cfg.max_retries:
                break
            self.sleep(self._delay(attempts - 1, failure.retry_after))
        reason = str(failure)
        tried = f"after {attempts} attempt{'s' if attempts > 1 else ''}"
        self._failed(reason)
        raise LLMError(self._say(f"{cfg.where} failed {tried}: {reason}"))

    def _check_breaker(self) -> None:
        reason = self.config.breaker.open_reason
        if reason is not None:
            raise LLMUnavailable(self._say(
                f"{self.config.where} is unavailable for the rest of this run: {reason}"))

    def _failed(self, reason: str) -> None:
        cfg = self.config
        if cfg.breaker.failure(f"{cfg.max_failures} failed calls in a row (last: {reason})", cfg.max_failures):
            self._tell(self._say(f"r2e: {cfg.where} failed {cfg.max_failures} calls in a row "
                                 f"(last: {reason}); no more LLM calls in this run"))

    def _tell(self, message: str) -> None:
        if self.notify is not None:
            self.notify(message)
        else:
            print(message, file=sys.stderr, flush=True)

    def _say(self, message: str) -> str:
        """A message safe to print and store: no key, no URL credentials."""
        return scrub(message, secrets_of(self.config))

    def _delay(self, attempt: int, hinted: float) -> float:
        backoff = self.config.backoff_seconds * (2 ** attempt) * (0.5 + random.random() / 2)
        return min(MAX_BACKOFF, max(hinted, backoff))

    def _where(self) -> str:
        return self.config.where

    # --- one attempt

    def _attempt(self, messages: list[dict], request: dict) -> ChatResult:
        client = self._openai()
        if not self.config.stream:
            return _to_result(client.chat.completions.create(model=self.config.model, messages=messages, **request),
                              self.config.model)
        stream = client.chat.completions.create(model=self.config.model, messages=messages, stream=True,
                                                stream_options={"include_usage": True}, **request)
        try:
            return _to_result(self._collect(stream), self.config.model)
        finally:
            try:
                stream.close()
            except Exception:  # noqa: BLE001 - closing a broken connection may fail too; nothing to do
                pass

    def _collect(self, stream) -> Any:
        """The streamed chunks assembled into one ChatCompletion (texts and tool calls, per choice)."""
        import openai
        from openai.types.chat import ChatCompletion

        transport = _transport_errors()
        response = getattr(stream, "response", None)
        content_type = (getattr(response, "headers", None) or {}).get("content-type", "")
        if response is not None and "event-stream" not in content_type:
            # A server that ignores stream=True and answers with one body.
            try:
                body = json.loads(response.read())
            except transport[0]:
                raise _Failed(f"no answer within {self.config.timeout:g} s", dead=True) from None
            except ValueError as exc:
                raise _Failed(f"reply is not JSON ({content_type or 'no content type'}): {_short(exc)}") from None
            if not isinstance(body, dict):
                raise _Failed(f"reply is not a JSON object: {type(body).__name__}")
            return ChatCompletion.construct(**body)
        deadline = time.monotonic() + self.config.request_budget
        choices: dict[int, dict] = {}
        doc: dict[str, Any] = {"id": "", "object": "chat.completion", "created": 0, "model": self.config.model}
        chunks = 0
        try:
            for chunk in stream:
                chunks += 1
                if time.monotonic() > deadline:
                    raise _Failed(f"answer still coming after {self.config.request_budget:g} s", final=True)
                _merge_chunk(doc, choices, chunk)
        except (transport[0], openai.APITimeoutError):  # newer SDKs wrap the transport's errors
            if chunks:
                raise _Failed(f"server went silent for {self.config.timeout:g} s after {chunks} chunks",
                              dead=True) from None
            raise _Failed(f"no answer within {self.config.timeout:g} s", dead=True) from None
        except (transport[1], openai.APIConnectionError) as exc:
            raise _Failed(f"connection lost after {chunks} chunks: {_short(exc)}", dead=True) from None
        doc["choices"] = [_choice(i, c) for i, c in sorted(choices.items())]
        return ChatCompletion.construct(**doc)


def _merge_chunk(doc: dict, choices: dict[int, dict], chunk: Any) -> None:
    for name in ("id", "created", "model", "system_fingerprint"):
        value = getattr(chunk, name, None)
        if value:
            doc[name] = value
    usage = getattr(chunk, "usage", None)
    if usage is not None:
        doc["usage"] = usage
    for c in getattr(chunk, "choices", None) or []:
        slot = choices.setdefault(int(getattr(c, "index", 0) or 0),
                                  {"content": [], "tool_calls": {}, "finish_reason": None, "seen": False})
        if getattr(c, "finish_reason", None):
            slot["finish_reason"] = c.finish_reason
        delta = getattr(c, "delta", None)
        if delta is None:
            continue
        slot["seen"] = True
        if getattr(delta, "content", None):
            slot["content"].append(delta.content)
        for call in getattr(delta, "tool_calls", None) or []:
            into = slot["tool_calls"].setdefault(int(getattr(call, "index", 0) or 0),
                                                 {"id": None, "type": "function",
                                                  "function": {"name": "", "arguments": ""}})
            if getattr(call, "id", None):
                into["id"] = call.id
            function = getattr(call, "function", None)
            if function is not None:
                into["function"]["name"] += getattr(function, "name", None) or ""
                into["function"]["arguments"] += getattr(function, "arguments", None) or ""


def _choice(index: int, slot: dict) -> dict:
    message: dict[str, Any] = {"role": "assistant", "content": "".join(slot["content"])}
    if slot["tool_calls"]:
        message["tool_calls"] = [call for _, call in sorted(slot["tool_calls"].items())]
    choice = {"index": index, "finish_reason": slot["finish_reason"] or "stop"}
    if slot["seen"] or slot["content"] or slot["tool_calls"]:
        choice["message"] = message
    return choice


def _transport_errors() -> tuple[type, type]:
    """(timeout, other transport error) of the HTTP library the SDK uses (httpx, or httpx2 for openai 3)."""
    try:
        import httpx2 as httpx
    except ImportError:
        import httpx
    return httpx.TimeoutException, httpx.TransportError


def _to_result(response: Any, model: str) -> ChatResult:
    choices = getattr(response, "choices", None)
    if not isinstance(choices, list) or not choices:
        raise _Failed(f"reply has no choices: {_preview(response)}")
    texts, messages, truncated = [], [], False
    for c in choices:
        message = _get(c, "message")
        content = _get(message, "content") if message is not None else None
        if message is None or not (content is None or isinstance(content, str)):
            continue
        texts.append(content or "")
        messages.append(_message_dict(message))
        truncated = truncated or _get(c, "finish_reason") == "length"
    if not texts:
        raise _Failed(f"reply has no message in its choices: {_preview(response)}")
    usage = getattr(response, "usage", None)
    return ChatResult(
        texts=texts,
        prompt_tokens=_count(getattr(usage, "prompt_tokens", 0)),
        completion_tokens=_count(getattr(usage, "completion_tokens", 0)),
        cached=False,
        model=str(getattr(response, "model", None) or model),
        truncated=truncated,
        messages=messages,
    )


def _get(obj: Any, name: str) -> Any:
    """An attribute of an SDK object, or a key of the plain dict a loosely built completion may hold."""
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def _message_dict(message: Any) -> dict:
    """One choice's assistant message as an OpenAI-format dict (tool calls kept, malformed ones dropped)."""
    out: dict = {"role": "assistant", "content": _get(message, "content") or ""}
    calls = []
    for c in _get(message, "tool_calls") or []:
        function = _get(c, "function")
        name = _get(function, "name") if function is not None else None
        if not isinstance(name, str) or not name:
            continue
        arguments = _get(function, "arguments")
        calls.append({"id": str(_get(c, "id") or ""), "type": "function",
                      "function": {"name": name, "arguments": arguments if isinstance(arguments, str) else
                                   (json.dumps(arguments, default=str) if arguments is not None else "")}})
    if calls:
        out["tool_calls"] = calls
    return out


def _count(value: Any) -> int:
    try:
        return max(0, int(value or 0))
    except (TypeError, ValueError):
        return 0


def _retry_after(exc: Exception) -> float:
    headers = getattr(getattr(exc, "response", None), "headers", None) or {}
    try:
        return max(0.0, float(headers.get("retry-after", "")))
    except (TypeError, ValueError):
        return 0.0


def _preview(response: Any) -> str:
    try:
        data = response.model_dump(warnings=False) if hasattr(response, "model_dump") else response
        text = json.dumps(data, default=str)
    except Exception:  # noqa: BLE001 - a preview must never fail
        text = repr(response)
    return text[:200]


def _short(exc: Exception | None) -> str:
    text = f"{type(exc).__name__}: {exc}" if exc else "unknown error"
    return (text.splitlines() or [""])[0][:300]
