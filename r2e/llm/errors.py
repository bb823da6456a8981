"""What can go wrong when asking a model; every server misbehaviour ends as one of these."""

from __future__ import annotations


class LLMError(RuntimeError):
    """The model could not be reached or answered unusably, after bounded retries."""


class LLMAuthError(LLMError):
    """The endpoint rejected the credentials; retrying cannot help."""


class LLMUnavailable(LLMError):
    """The endpoint failed too many times in a row: no more calls are made for the rest of the run."""
