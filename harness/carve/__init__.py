"""Carving: equivalence harnesses replayed from calls recorded while the repo's own tests ran.

The scripts that run inside the environment (tracer, compare) live in harness.sandbox."""
