"""Chat completions from any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, OpenRouter)."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from r2e.llm.cache import ResponseCache, cache_key
from r2e.llm.config import LLMConfig

MAX_BACKOFF = 30.0


class LLMError(RuntimeError):
    """The model could not be reached or answered unusably, after bounded retries."""


class LLMAuthError(LLMError):
    """The endpoint rejected the credentials; retrying cannot help."""


@dataclass(frozen=True)
class ChatResult:
    texts: list[str]
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False
    model: str = ""
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
                "completion_tokens": self.completion_tokens, "model": self.model, "messages": self.messages}


@dataclass
class LLMClient:
    config: LLMConfig
    sleep: Callable[[float], None] = time.sleep
    _client: Any = field(default=None, init=False, repr=False)
    _cache: ResponseCache | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.config.cache_path is not None:
            self._cache = ResponseCache(self.config.cache_path)

    def _openai(self):
        if self._client is None:
            import openai

            # Retries are ours (bounded, logged per attempt); the SDK's own are turned off.
            self._client = openai.OpenAI(
                api_key=self.config.api_key(), base_url=self.config.base_url,
                timeout=self.config.timeout, max_retries=0,
            )
        return self._client

    def chat(self, messages: list[dict], n: int = 1, temperature: float = 0.0,
             max_tokens: int | None = None, tools: list[dict] | None = None, **params: Any) -> ChatResult:
        """Complete `messages`; with `tools` (OpenAI function schemas) the reply may carry tool calls."""
        request = {"n": n, "temperature": temperature, **params}
        if max_tokens is not None:
            request["max_tokens"] = max_tokens
        if tools:
            request["tools"] = tools
        key = cache_key(self.config.model, messages, request)
        if self._cache is not None:
            hit = self._cache.get(key)
            if hit is not None:
                return ChatResult(hit["texts"], hit.get("prompt_tokens", 0), hit.get("completion_tokens", 0),
                                  True, hit.get("model", self.config.model), hit.get("messages") or [])
        result = self._call_with_retries(messages, request)
        if self._cache is not None:
            self._cache.put(key, result.to_dict())
        return result

    def _call_with_retries(self, messages: list[dict], request: dict) -> ChatResult:
        import openai

        retryable = (openai.RateLimitError, openai.APITimeoutError, openai.APIConnectionError,
                     openai.InternalServerError)
        last: Exception | None = None
        for attempt in range(self.config.max_retries + 1):
            try:
                response = self._openai().chat.completions.create(
                    model=self.config.model, messages=messages, **request
                )
                return _to_result(response, self.config.model)
            except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
                raise LLMAuthError(f"authentication failed at {self._where()}: {_short(exc)}") from None
            except retryable as exc:
                last = exc
                if attempt < self.config.max_retries:
                    self.sleep(self._delay(attempt, exc))
            except openai.APIStatusError as exc:  # 400, 404, 422: the request itself is wrong
                raise LLMError(f"{self._where()} rejected the request: {_short(exc)}") from None
            except openai.OpenAIError as exc:
                raise LLMError(f"{self._where()}: {_short(exc)}") from None
        raise LLMError(f"{self._where()} failed after {self.config.max_retries + 1} attempts: {_short(last)}")

    def _delay(self, attempt: int, exc: Exception) -> float:
        retry_after = getattr(getattr(exc, "response", None), "headers", {}) or {}
        try:
            hinted = float(retry_after.get("retry-after", ""))
        except (TypeError, ValueError):
            hinted = 0.0
        backoff = self.config.backoff_seconds * (2 ** attempt) * (0.5 + random.random() / 2)
        return min(MAX_BACKOFF, max(hinted, backoff))

    def _where(self) -> str:
        return f"model '{self.config.model}'" + (f" at {self.config.base_url}" if self.config.base_url else "")


def _to_result(response: Any, model: str) -> ChatResult:
    choices = [c for c in (getattr(response, "choices", None) or []) if getattr(c, "message", None) is not None]
    texts = [(c.message.content or "") for c in choices]
    messages = [_message_dict(c.message) for c in choices]
    if not texts:
        raise LLMError(f"model '{model}' returned no choices")
    usage = getattr(response, "usage", None)
    return ChatResult(
        texts=texts,
        prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
        completion_tokens=getattr(usage, "completion_tokens", 0) or 0,
        cached=False,
        model=getattr(response, "model", None) or model,
        messages=messages,
    )


def _message_dict(message: Any) -> dict:
    out: dict = {"role": "assistant", "content": message.content or ""}
    calls = getattr(message, "tool_calls", None) or []
    if calls:
        out["tool_calls"] = [
            {"id": c.id, "type": "function",
             "function": {"name": c.function.name, "arguments": c.function.arguments or ""}}
            for c in calls if getattr(c, "function", None) is not None
        ]
    return out


def _short(exc: Exception | None) -> str:
    text = f"{type(exc).__name__}: {exc}" if exc else "unknown error"
    return text.splitlines()[0][:300]
