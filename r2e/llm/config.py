"""Which model to call and how; the API key is read from the environment only when calling."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, fields
from pathlib import Path

from r2e.errors import R2EUsageError
from r2e.llm.breaker import CircuitBreaker
from r2e.llm.redact import redact_url

MODEL_ENV = "R2E_MODEL"
BASE_URL_ENV = "OPENAI_BASE_URL"
DEFAULT_KEY_ENV = "OPENAI_API_KEY"

# Completion budget per kind of call when neither the caller nor --max-tokens sets one. Without a
# bound a small local model writes until its context is full: minutes per request for nothing.
DEFAULT_MAX_TOKENS = {
    "generate": 2048,   # a whole test file for one function
    "repair": 512,      # one shell command, or "RERUN" / "GIVE UP", with a short reason
    "statement": 1024,  # a problem statement
    "agent": 1024,      # one agent step: a thought and one action
    "default": 2048,
}


@dataclass(frozen=True)
class LLMConfig:
    model: str
    base_url: str | None = None
    api_key_env: str = DEFAULT_KEY_ENV
    cache_path: Path | None = None
    max_retries: int = 4           # retries after 429 / 5xx / refused connections / malformed replies
    timeout: float = 60.0          # --llm-timeout: longest silence tolerated, before the first token or between two
    connect_timeout: float = 10.0  # a host that does not accept within this is down
    dead_retries: int = 1          # retries after no answer at all (silence, refused or dropped connection):
                                   # a dead server costs (1 + this) x timeout per call, no more
    request_budget: float = 900.0  # wall time for one streamed answer that keeps coming, however slowly
    backoff_seconds: float = 1.0   # first retry delay; doubles each time, capped at 30 s
    max_tokens: int | None = None  # --max-tokens: overrides DEFAULT_MAX_TOKENS for every kind of call
    max_failures: int = 3          # --llm-max-failures: failed calls in a row that stop all calls (0: never)
    stream: bool = True            # streamed answers tell a slow server (tokens keep coming) from a dead one
    # One breaker per configured run: every client built from this config (one per build, one per
    # generator, from any thread) shares it, so "the rest of the run" means what it says.
    breaker: CircuitBreaker = field(default_factory=CircuitBreaker, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("timeout", "connect_timeout", "request_budget"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise R2EUsageError(f"invalid LLM {name} {value!r}: expected a positive number of seconds")
        if self.max_tokens is not None and not (isinstance(self.max_tokens, int) and self.max_tokens >= 1):
            raise R2EUsageError(f"invalid --max-tokens {self.max_tokens!r}: expected a positive integer")
        for name in ("max_retries", "dead_retries", "max_failures"):
            if not (isinstance(getattr(self, name), int) and getattr(self, name) >= 0):
                raise R2EUsageError(f"invalid LLM {name} {getattr(self, name)!r}: expected an integer >= 0")

    def __repr__(self) -> str:
        # Never the key (it is not stored) nor credentials embedded in the URL.
        shown = ", ".join(f"{f.name}={redact_url(getattr(self, f.name)) if f.name == 'base_url' else getattr(self, f.name)!r}"
                          for f in fields(self) if f.repr)
        return f"LLMConfig({shown})"

    __str__ = __repr__

    def max_tokens_for(self, purpose: str = "default") -> int:
        """The completion bound of one kind of call: --max-tokens if given, else that kind's default."""
        if self.max_tokens is not None:
            return self.max_tokens
        return DEFAULT_MAX_TOKENS.get(purpose, DEFAULT_MAX_TOKENS["default"])

    @property
    def where(self) -> str:
        """The model and endpoint, safe to print."""
        return f"model '{self.model}'" + (f" at {redact_url(self.base_url)}" if self.base_url else "")

    def api_key(self) -> str:
        key = os.environ.get(self.api_key_env)
        if key:
            return key
        if self.base_url:  # local servers (vLLM, Ollama) accept any key
            return "EMPTY"
        raise R2EUsageError(f"{self.api_key_env} is not set: export it, or give --base-url for a local server")

    @classmethod
    def from_env_and_options(
        cls,
        model: str | None = None,
        base_url: str | None = None,
        no_cache: bool = False,
        cache_dir: Path | None = None,
        **overrides,
    ) -> "LLMConfig | None":
        """The configured LLM, or None when neither --model nor $R2E_MODEL names one.

        `overrides` are LLMConfig fields; None values are ignored, so CLI options can be passed as they come
        (max_tokens=, timeout=, max_failures=, ...)."""
        model = model or os.environ.get(MODEL_ENV)
        if not model:
            return None
        base_url = base_url or os.environ.get(BASE_URL_ENV) or None
        if base_url and not base_url.startswith(("http://", "https://")):
            raise R2EUsageError(f"invalid --base-url '{redact_url(base_url)}': expected http(s)://HOST[:PORT]/PATH")
        cache_path = None if no_cache or cache_dir is None else Path(cache_dir) / "llm-cache.sqlite3"
        overrides = {k: v for k, v in overrides.items() if v is not None}
        return cls(model=model, base_url=base_url, cache_path=cache_path, **overrides)
