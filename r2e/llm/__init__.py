"""An OpenAI-compatible chat client with bounded retries and an optional SQLite cache."""

from r2e.llm.client import ChatResult, LLMAuthError, LLMClient, LLMError
from r2e.llm.config import LLMConfig

__all__ = ["ChatResult", "LLMAuthError", "LLMClient", "LLMConfig", "LLMError"]
