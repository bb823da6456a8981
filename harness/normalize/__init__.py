"""Bring outside environments in: build instances that come with a Dockerfile and an eval script, make their
evaluation stable by deterministic checks and fixes (an LLM only for what those cannot fix), and write a
transferred dataset with SWE-Factory's field names. `r2e normalize` is the command; `run.run_normalize` the entry.
"""
