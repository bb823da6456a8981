"""Which model to call and how; the API key is read from the environment only when calling."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from r2e.errors import R2EUsageError

MODEL_ENV = "R2E_MODEL"
BASE_URL_ENV = "OPENAI_BASE_URL"
DEFAULT_KEY_ENV = "OPENAI_API_KEY"


@dataclass(frozen=True)
class LLMConfig:
    model: str
    base_url: str | None = None
    api_key_env: str = DEFAULT_KEY_ENV
    cache_path: Path | None = None
    max_retries: int = 4
    timeout: float = 120.0
    backoff_seconds: float = 1.0  # first retry delay; doubles each time, capped at 30 s

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
        """The configured LLM, or None when neither --model nor $R2E_MODEL names one."""
        model = model or os.environ.get(MODEL_ENV)
        if not model:
            return None
        base_url = base_url or os.environ.get(BASE_URL_ENV) or None
        if base_url and not base_url.startswith(("http://", "https://")):
            raise R2EUsageError(f"invalid --base-url '{base_url}': expected http(s)://HOST[:PORT]/PATH")
        cache_path = None if no_cache or cache_dir is None else Path(cache_dir) / "llm-cache.sqlite3"
        return cls(model=model, base_url=base_url, cache_path=cache_path, **overrides)
