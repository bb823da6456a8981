"""An OpenAI-compatible chat client: bounded retries and timeouts, a circuit breaker, an optional SQLite cache."""

from r2e.llm.client import ChatResult, LLMClient
from r2e.llm.config import DEFAULT_MAX_TOKENS, LLMConfig
from r2e.llm.errors import LLMAuthError, LLMError, LLMUnavailable
from r2e.llm.redact import redact_url, scrub, secrets_of

__all__ = ["ChatResult", "DEFAULT_MAX_TOKENS", "LLMAuthError", "LLMClient", "LLMConfig", "LLMError",
           "LLMUnavailable", "redact_url", "scrub", "secrets_of"]
