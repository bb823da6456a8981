"""Values shared across modules."""

DEFAULT_SEPARATOR = "-"
MAX_SLUG_LENGTH = 40
EPSILON = 1e-12
