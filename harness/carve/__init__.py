"""Carving: equivalence harnesses replayed from calls recorded while the repo's own tests ran (issue 8)."""
