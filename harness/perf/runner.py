"""Runs one perf harness once, inside the target repo's interpreter: standard library only.

    python runner.py HARNESS.py --scale N [--warmup W] [--setup-only] [--cpu C] [--call-tracing]

The harness defines `setup()` and `experiment(data)` and may read a module global `SCALE` (set
here before `setup`). One warm-up call on its own `setup()` data, then one timed call on fresh data.
The last stdout line starting with the marker carries the JSON result: wall and process CPU
seconds of the timed call, and a digest of its canonical result (so two versions can be compared
without shipping the result itself).
"""

import argparse
import hashlib
import importlib.util
import itertools
import json
import math
import os
import re
import sys
import time
import traceback

MARKER = "R2E-PERF-RESULT "
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def canonical(obj, depth=0):
    """A JSON-able form equal for equal results: sets sorted, dicts by key, floats rounded, no addresses."""
    if depth > 50:
        return "<deep>"
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        if math.isnan(obj):
            return "nan"
        return float(f"{obj:.10g}")
    if isinstance(obj, complex):
        return ["complex", canonical(obj.real), canonical(obj.imag)]
    if isinstance(obj, (bytes, bytearray)):
        return ["bytes", hashlib.sha256(bytes(obj)).hexdigest()]
    if isinstance(obj, (list, tuple)):
        return [canonical(x, depth + 1) for x in obj]
    if isinstance(obj, (set, frozenset)):
        return ["set", sorted((canonical(x, depth + 1) for x in obj), key=lambda v: json.dumps(v, sort_keys=True))]
    if isinstance(obj, dict):
        items = [[canonical(k, depth + 1), canonical(v, depth + 1)] for k, v in obj.items()]
        return ["dict", sorted(items, key=lambda kv: json.dumps(kv[0], sort_keys=True))]
    if hasattr(obj, "__next__") and hasattr(obj, "__iter__"):  # an iterator: what it yields, not its type
        try:
            return ["iter", [canonical(x, depth + 1) for x in itertools.islice(obj, 100000)]]
        except Exception as exc:  # noqa: BLE001 - an iterator that raises: the exception is the result
            return ["raised", type(exc).__name__]
    tolist = getattr(obj, "tolist", None)  # numpy arrays and scalars
    if callable(tolist):
        try:
            return canonical(tolist(), depth + 1)
        except Exception:  # noqa: BLE001 - fall back to the repr
            pass
    state = getattr(obj, "__dict__", None)
    if isinstance(state, dict) and state:
        return [type(obj).__name__, canonical(state, depth + 1)]
    return _ADDRESS.sub("", repr(obj))


def load(path):
    spec = importlib.util.spec_from_file_location("r2e_perf_harness", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name in ("setup", "experiment"):
        if not callable(getattr(module, name, None)):
            raise RuntimeError(f"the harness defines no {name}()")
    return module


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("harness")
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--setup-only", action="store_true")
    parser.add_argument("--cpu", type=int, default=None)
    # callgrind counts only inside _PyEval_CallTracing, which only sys.call_tracing calls: the timed call
    parser.add_argument("--call-tracing", action="store_true")
    args = parser.parse_args(argv)
    out = {"ok": False, "pid": os.getpid()}
    try:
        if args.cpu is not None and hasattr(os, "sched_setaffinity"):
            try:
                os.sched_setaffinity(0, {args.cpu})
                out["cpu"] = args.cpu
            except OSError:
                out["cpu"] = None
        module = load(args.harness)
        module.SCALE = args.scale
        if args.setup_only:
            module.setup()
            out["ok"] = True
        else:
            for _ in range(args.warmup):
                module.experiment(module.setup())
            data = module.setup()
            c0, t0 = time.process_time(), time.perf_counter()
            if args.call_tracing:
                result = sys.call_tracing(module.experiment, (data,))
            else:
                result = module.experiment(data)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            text = json.dumps(canonical(result), sort_keys=True)
            out.update(ok=True, wall=wall, cpu=cpu, digest=hashlib.sha256(text.encode()).hexdigest(),
                       preview=text[:200])
    except BaseException as exc:  # noqa: BLE001 - every failure is reported as data
        out["error"] = f"{type(exc).__name__}: {exc}"
        out["trace"] = traceback.format_exc()[-3000:]
    sys.stdout.flush()
    print(MARKER + json.dumps(out), flush=True)
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
