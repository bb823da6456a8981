"""Equivalence-test harnesses: the in-sandbox runner, prompts, generation, execution, genexec, carving."""
