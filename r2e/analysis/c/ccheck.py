"""Does a slice compile on its own? `cc -fsyntax-only` on the slice text (used by tests and benchmarks)."""

from __future__ import annotations

import os
import re
import subprocess
import tempfile

FLAGS = ("-fsyntax-only", "-std=gnu11", "-Werror=implicit-function-declaration", "-Werror=implicit-int")
ERROR = re.compile(r"^[^:\n]*:\d+:\d+: (?:fatal )?error: (.*)$", re.M)


def check_compiles(text: str, cc: str = "cc", timeout: float = 60) -> tuple[bool, str]:
    """(compiles, first error message) for one self-contained translation unit."""
    fd, path = tempfile.mkstemp(suffix=".c", prefix="r2e-slice-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        try:
            p = subprocess.run([cc, *FLAGS, path], capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return False, "timeout"
        if p.returncode == 0:
            return True, ""
        m = ERROR.search(p.stderr)
        return False, (m.group(1) if m else p.stderr.strip().splitlines()[-1:] or ["unknown"])[0] if not m else m.group(1)
    finally:
        os.unlink(path)
