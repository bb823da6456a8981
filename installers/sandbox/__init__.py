"""Files copied INTO an environment and run by the repository's own interpreter.

Standard library only, Python 3.8 compatible (no host-only syntax): the folder goes on the
environment's PYTHONPATH, so every module name starts with `r2e_` to stay out of the project's way.
"""
