"""R2E: turn code repositories into executable environments for code-generating models."""

__version__ = "0.1.0"
