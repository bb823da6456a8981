"""The carving tracer. It runs INSIDE the target environment, in the repo's interpreter.

Standard library only (pytest is imported from the repo's environment); Python >= 3.8 syntax.
Copied into the environment with compare.py and the harness runner beside it (as
r2e_carve_compare.py and r2e_carve_runner.py), and run as

    python tracer.py trace SPEC.json OUT.json            # the repo's pytest suite, targets wrapped
    python tracer.py replay SPEC.json TRACE.json OUT.json   # fresh process: keep faithful samples

`trace` imports the target modules from the checkout BEFORE pytest starts, replaces each target
function or method with a thin wrapper (no sys.settrace), and runs the suite once in-process. The
wrapper pickles (args, kwargs) before the call -- for methods args[0] is the instance, so its state
-- into a size-capped buffer (a large object aborts the pickling early and is counted, never
pickled in full), keeps distinct samples (sha256 of the bytes) up to a bound per function, and
records the outcome after the call (exception type, or the return value's type and, when it pickles
within the cap, the value). Once a function has its samples or its pickling budget is spent the
wrapper only counts calls.

`replay` loads every sample in a fresh process laid out like the harness runner's (checkout on
sys.path, a scratch working folder, no pytest), calls the real function twice, each time on a fresh
unpickling: a sample is kept when both replays agree with each other and with the recorded outcome.
Two replays that disagree mark the function non-deterministic: it keeps no sample.

Bounds: each test gets `per_test_timeout` seconds (an alarm raised in the test, again every half
second if swallowed; the test counts as failed and the suite goes on). The whole suite gets
`suite_budget` seconds: past it a watchdog writes what was recorded so far (marked timed out) and
ends the process, so a suite that never finishes still yields its samples.

SPEC.json: repo_root, targets [{key, path, name, class_name}], pytest_args, wrap (false: the suite
alone, for timing), max_samples, max_attempts, max_bytes, replay_timeout, per_test_timeout,
suite_budget.
"""

import base64
import hashlib
import io
import json
import marshal
import os
import pickle
import signal
import sys
import tempfile
import threading
import time
import traceback
import types

PROTOCOL = 4
REPR_LIMIT = 300
_HERE = os.path.dirname(os.path.abspath(__file__))

# The harness runner, copied beside this script as r2e_carve_runner: the tracer lays out imports
# and unwraps class members exactly as the runner that will execute the carved harness does.
try:  # noqa: E402 -- as a script in the environment
    from r2e_carve_runner import _unwrap_member as unwrap_member, module_name_for
except ImportError:  # imported from the installed package (tooling, tests)
    from harness.sandbox.runner import _unwrap_member as unwrap_member, module_name_for


class TooLarge(Exception):
    pass


class _Capped(io.RawIOBase):
    """A write-only buffer that refuses to grow past `limit` bytes (the pickler stops there)."""

    def __init__(self, limit):
        io.RawIOBase.__init__(self)
        self.limit, self.size, self.parts = limit, 0, []

    def writable(self):
        return True

    def write(self, data):
        self.size += len(data)
        if self.size > self.limit:
            raise TooLarge(self.size)
        self.parts.append(bytes(data))
        return len(data)


class _Pickler(pickle.Pickler):
    """Lambdas and local functions, which pickle cannot name, go by value (code, defaults, closure)
    and load through carve_make_function; everything else pickles as usual."""

    def reducer_override(self, obj):
        if isinstance(obj, types.FunctionType) and ("<locals>" in obj.__qualname__ or obj.__name__ == "<lambda>"):
            maker = _maker()
            if maker is not None:
                closure = None if obj.__closure__ is None else tuple(c.cell_contents for c in obj.__closure__)
                return maker, (marshal.dumps(obj.__code__), obj.__module__, obj.__name__, obj.__qualname__,
                               obj.__defaults__, obj.__kwdefaults__, closure, bool(_global_names(obj.__code__)))
        return NotImplemented


def _global_names(code):
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names


_MAKER = []


def _maker():
    if not _MAKER:
        try:
            if _HERE not in sys.path:
                sys.path.append(_HERE)
            from r2e_carve_compare import carve_make_function
            _MAKER.append(carve_make_function)
        except ImportError:
            _MAKER.append(None)
    return _MAKER[0]


def capped_dumps(obj, limit):
    buf = _Capped(limit)
    _Pickler(buf, protocol=PROTOCOL).dump(obj)
    return b"".join(buf.parts)


def clip(text, limit=REPR_LIMIT):
    return text if len(text) <= limit else text[: limit - 3] + "..."


def safe_repr(value):
    try:
        return clip(repr(value))
    except Exception as exc:
        return "<unrepresentable %s: %s>" % (type(value).__name__, type(exc).__name__)


def setup_paths(spec, targets=None):
    """The checkout first on sys.path: its root and the import roots of `targets` (default: all).
    A replay passes only its own target, as the runner sets up one function's paths."""
    repo_root = os.path.abspath(spec["repo_root"])
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
    roots = [repo_root] + [module_name_for(repo_root, t["path"])[0] for t in (targets or spec["targets"])]
    for entry in reversed(list(dict.fromkeys(roots))):
        if entry in sys.path:
            sys.path.remove(entry)
        sys.path.insert(0, entry)
    return repo_root


def locate(spec, target):
    """(module, owner, plain function, rewrap) of a target, imported from the checkout."""
    import importlib

    repo_root = os.path.abspath(spec["repo_root"])
    module_file = os.path.abspath(os.path.join(repo_root, target["path"]))
    _, modname = module_name_for(repo_root, target["path"])
    module = importlib.import_module(modname)
    if os.path.abspath(getattr(module, "__file__", "") or "") != module_file:
        raise ImportError("%s resolved to %s, not %s" % (modname, getattr(module, "__file__", None), module_file))
    if target.get("class_name"):
        owner = module
        for part in target["class_name"].split("."):
            owner = getattr(owner, part)
        member = owner.__dict__[target["name"]]
        fn, rewrap = unwrap_member(member)
    else:
        owner = module
        fn, rewrap = module.__dict__[target["name"]], (lambda f: f)
    if not isinstance(fn, types.FunctionType):
        raise TypeError("%s is not a plain Python function" % target["name"])
    return module, owner, fn, rewrap


# --------------------------------------------------------------------------- trace

class Recorder(object):
    """Per-function bookkeeping of the wrapper: bounded, distinct samples."""

    def __init__(self, key, max_samples, max_attempts, max_bytes):
        self.key = key
        self.max_samples, self.max_attempts, self.max_bytes = max_samples, max_attempts, max_bytes
        self.stats = {"calls": 0, "pickled": 0, "skipped_large": 0, "skipped_unpicklable": 0, "duplicates": 0,
                      "unpicklable_errors": []}
        self.samples = []
        self.seen = set()
        self.active = 0
        self.current_test = None

    def wants(self):
        return (self.active == 0 and len(self.samples) < self.max_samples
                and self.stats["pickled"] + self.stats["skipped_large"] + self.stats["skipped_unpicklable"]
                + self.stats["duplicates"] < self.max_attempts)

    def inputs(self, args, kwargs):
        """The pickled inputs, or None when they are too large, unpicklable or already seen."""
        try:
            blob = capped_dumps((args, kwargs), self.max_bytes)
        except TooLarge:
            self.stats["skipped_large"] += 1
            return None
        except Exception as exc:  # lambdas, open files, locks, generators...: skipped and counted
            self.stats["skipped_unpicklable"] += 1
            if len(self.stats["unpicklable_errors"]) < 3:
                self.stats["unpicklable_errors"].append(clip("%s: %s" % (type(exc).__name__, exc), 200))
            return None
        sha = hashlib.sha256(blob).hexdigest()
        if sha in self.seen:
            self.stats["duplicates"] += 1
            return None
        self.seen.add(sha)
        self.stats["pickled"] += 1
        return sha, blob

    def add(self, sha, blob, args, kwargs, outcome):
        self.samples.append({"sha": sha, "inputs": base64.b64encode(blob).decode("ascii"),
                             "repr": clip("args=%s kwargs=%s" % (safe_repr(args), safe_repr(kwargs)), 600),
                             "outcome": outcome, "test": CURRENT["test"]})


CURRENT = {"test": None}


def make_wrapper(fn, rec):
    def carved(*args, **kwargs):
        rec.stats["calls"] += 1
        if not rec.wants():
            return fn(*args, **kwargs)
        before = rec.inputs(args, kwargs)
        rec.active += 1
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            if before is not None:
                rec.add(before[0], before[1], args, kwargs, {"kind": "raised", "type": type(exc).__name__})
            raise
        finally:
            rec.active -= 1
        if before is not None:
            outcome = {"kind": "returned", "type": type(result).__name__, "value": None}
            if not (hasattr(result, "__next__") and hasattr(result, "__iter__")):
                try:
                    outcome["value"] = base64.b64encode(capped_dumps(result, rec.max_bytes)).decode("ascii")
                except Exception:
                    pass  # compared by type only
            rec.add(before[0], before[1], args, kwargs, outcome)
        return result

    for attr in ("__module__", "__name__", "__qualname__", "__doc__"):
        try:
            setattr(carved, attr, getattr(fn, attr))
        except (AttributeError, TypeError):
            pass
    carved.__dict__.update(fn.__dict__)
    carved.__wrapped__ = fn
    return carved


def install(spec, recorders, errors):
    """Wrap every target; rebind aliases (`from .mod import f` in a package __init__) to the wrapper."""
    replaced = {}
    for target in spec["targets"]:
        key = target["key"]
        try:
            module, owner, fn, rewrap = locate(spec, target)
            if fn.__code__.co_flags & 0x80 or fn.__code__.co_flags & 0x200:  # coroutine / async generator
                raise TypeError("async functions are not carved")
            rec = Recorder(key, int(spec.get("max_samples", 20)), int(spec.get("max_attempts", 200)),
                           int(spec.get("max_bytes", 65536)))
            wrapper = make_wrapper(fn, rec)
            setattr(owner, target["name"], rewrap(wrapper))
            recorders[key] = rec
            if not target.get("class_name"):
                replaced[id(fn)] = (fn, wrapper)
        except Exception as exc:
            errors[key] = clip("%s: %s" % (type(exc).__name__, exc), 500)
    if replaced:
        try:
            rebind(replaced)
        except Exception as exc:  # aliases stay unwrapped: fewer samples, never a broken trace
            errors["<rebind>"] = clip("%s: %s" % (type(exc).__name__, exc), 500)


def rebind(replaced):
    """Point aliases and default arguments (`def f(key=hashkey)`) at the wrappers, so the suite still
    sees one object where it saw one before (`assertIs(f.key, hashkey)` keeps passing)."""
    for mod in list(sys.modules.values()):
        namespace = getattr(mod, "__dict__", None)
        if not isinstance(namespace, dict):
            continue
        for attr, value in list(namespace.items()):
            hit = replaced.get(id(value))
            if hit is not None and hit[0] is value:
                namespace[attr] = hit[1]
                _rebind_defaults(value, replaced)
            elif isinstance(value, types.FunctionType):
                _rebind_defaults(value, replaced)
            elif isinstance(value, type) and getattr(value, "__module__", None) == getattr(mod, "__name__", None):
                for member in list(vars(value).values()):
                    fn = unwrap_member(member)[0]
                    if fn is not None:
                        _rebind_defaults(fn, replaced)


def _rebind_defaults(fn, replaced):
    if not isinstance(fn, types.FunctionType):
        return
    inner = fn.__dict__.get("__wrapped__")
    if isinstance(inner, types.FunctionType) and inner is not fn:
        _rebind_defaults(inner, replaced)  # a carving wrapper (or a functools.wraps decorator): its target
    defaults = fn.__defaults__
    if defaults and any(id(d) in replaced for d in defaults):
        fn.__defaults__ = tuple(replaced[id(d)][1] if id(d) in replaced and replaced[id(d)][0] is d else d
                                for d in defaults)
    kw = fn.__kwdefaults__
    if kw and any(id(d) in replaced for d in kw.values()):
        fn.__kwdefaults__ = {k: (replaced[id(d)][1] if id(d) in replaced and replaced[id(d)][0] is d else d)
                             for k, d in kw.items()}


class TestTimeout(BaseException):
    """Raised in a test that runs past the per-test timeout (BaseException: `except Exception` in
    the test does not swallow it; pytest still reports the test as failed)."""


def _test_alarm(signum, frame):
    raise TestTimeout("the test ran past the per-test timeout")


class Plugin(object):
    """Counts test outcomes, tells the recorders which test is running, bounds each test's time."""

    def __init__(self, per_test_timeout=0.0):
        self.counts = {"passed": 0, "failed": 0, "skipped": 0, "errors": 0, "timeouts": 0}
        self.per_test = per_test_timeout if hasattr(signal, "setitimer") else 0.0
        if self.per_test > 0:
            signal.signal(signal.SIGALRM, _test_alarm)

    def pytest_runtest_logstart(self, nodeid, location):
        CURRENT["test"] = nodeid
        if self.per_test > 0:  # setup, call and teardown of one test share the budget
            signal.setitimer(signal.ITIMER_REAL, self.per_test, 0.5)

    def pytest_runtest_logfinish(self, nodeid, location):
        if self.per_test > 0:
            signal.setitimer(signal.ITIMER_REAL, 0, 0)

    def pytest_runtest_logreport(self, report):
        if report.outcome == "failed" and "TestTimeout" in str(getattr(report, "longrepr", "") or "")[-2000:]:
            self.counts["timeouts"] += 1
        if report.when == "call":
            self.counts[report.outcome] = self.counts.get(report.outcome, 0) + 1
        elif report.outcome == "failed":
            self.counts["errors"] += 1
        elif report.outcome == "skipped":
            self.counts["skipped"] += 1


def trace_result(spec, plugin, recorders, errors, started, t0, code, timed_out=False):
    """The trace output: the suite's facts and each function's samples (copied: a watchdog thread
    may take them while the suite still runs)."""
    out = {"suite": {"exit_code": code, "duration": round(time.time() - t0, 4), "counts": dict(plugin.counts),
                     "pytest_args": list(spec.get("pytest_args") or []), "wrapped": bool(spec.get("wrap", True)),
                     "timed_out": timed_out},
           "errors": dict(errors), "functions": {}, "duration": round(time.time() - started, 4)}
    for key, rec in list(recorders.items()):
        out["functions"][key] = {"stats": dict(rec.stats), "samples": list(rec.samples)}
    return out


def start_watchdog(spec, out_path, plugin, recorders, errors, started, t0):
    """Past the suite budget: write what was recorded so far and end the process."""
    budget = float(spec.get("suite_budget") or 0)
    if budget <= 0:
        return None

    def fire():
        try:
            errors["<suite>"] = "the suite ran past its budget of %ss (during %s); the samples recorded " \
                                "so far are kept" % (budget, CURRENT["test"])
            _write(out_path, trace_result(spec, plugin, recorders, errors, started, t0, None, timed_out=True))
        finally:
            sys.stdout.flush()
            os._exit(0)

    timer = threading.Timer(budget, fire)
    timer.daemon = True
    timer.start()
    return timer


def trace_main(spec_path, out_path):
    with open(spec_path) as fh:
        spec = json.load(fh)
    repo_root = setup_paths(spec)
    os.chdir(repo_root)
    recorders, errors = {}, {}
    started = time.time()
    if spec.get("wrap", True):
        install(spec, recorders, errors)
    try:
        import pytest
    except ImportError as exc:
        _write(out_path, {"suite": {"exit_code": None, "error": "pytest is not importable: %s" % exc},
                          "errors": {"<suite>": "pytest is not importable: %s" % exc}, "functions": {}})
        os._exit(0)

    plugin = Plugin(float(spec.get("per_test_timeout") or 0))
    args = list(spec.get("pytest_args") or [])
    t0 = time.time()
    start_watchdog(spec, out_path, plugin, recorders, errors, started, t0)
    try:
        code = int(pytest.main(args, plugins=[plugin]))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        code = -1
        errors["<suite>"] = clip(traceback.format_exc(), 2000)
    if plugin.per_test > 0:
        signal.setitimer(signal.ITIMER_REAL, 0, 0)
    _write(out_path, trace_result(spec, plugin, recorders, errors, started, t0, code))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # threads or atexit handlers left by the suite get no say


# --------------------------------------------------------------------------- replay

class ReplayTimeout(BaseException):
    pass


def _alarm(signum, frame):
    raise ReplayTimeout()


def replay_once(fn, blob, timeout):
    """(outcome, state, live type name) of one call on a fresh unpickling of the inputs."""
    from r2e_carve_compare import carve_shape

    args, kwargs = pickle.loads(blob)
    use_alarm = hasattr(signal, "setitimer") and timeout > 0
    if use_alarm:
        signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, timeout, 0.5)
    try:
        try:
            value = fn(*args, **kwargs)
        except Exception as exc:
            return ("raised", type(exc).__name__), carve_shape((list(args), kwargs)), type(exc).__name__
        return ("returned", carve_shape(value)), carve_shape((list(args), kwargs)), type(value).__name__
    finally:
        if use_alarm:
            signal.setitimer(signal.ITIMER_REAL, 0, 0)


def check_sample(fn, sample, timeout):
    """'kept', or why not: 'replay-failed', 'unfaithful', 'nondeterministic', 'timeout'."""
    from r2e_carve_compare import carve_equal, carve_shape

    blob = base64.b64decode(sample["inputs"])
    try:
        first = replay_once(fn, blob, timeout)
        second = replay_once(fn, blob, timeout)
    except ReplayTimeout:
        return "timeout", "replay exceeded %ss" % timeout
    except BaseException as exc:  # unpickling failed (e.g. a class defined in a test module)
        return "replay-failed", clip("%s: %s" % (type(exc).__name__, exc), 300)
    if not (carve_equal(first[0], second[0]) and carve_equal(first[1], second[1])):
        return "nondeterministic", "two replays of the same inputs disagree"
    recorded = sample["outcome"]
    if first[0][0] != recorded["kind"] or first[2] != recorded["type"]:
        return "unfaithful", "recorded %s %s, replayed %s %s" % (recorded["kind"], recorded["type"], first[0][0], first[2])
    if recorded.get("value"):
        try:
            expected = carve_shape(pickle.loads(base64.b64decode(recorded["value"])))
        except Exception as exc:
            return "unfaithful", "recorded value does not load: %s" % type(exc).__name__
        if not carve_equal(expected, first[0][1]):
            return "unfaithful", "replayed return value differs from the recorded one"
    return "kept", None


def replay_main(spec_path, trace_path, out_path):
    """Each function's samples are replayed in a fresh child process, as each harness later runs in
    its own: state one function's replay leaves behind (sys.path, imported modules, the working
    folder) cannot make another's samples look loadable."""
    import subprocess

    with open(spec_path) as fh:
        spec = json.load(fh)
    with open(trace_path) as fh:
        functions = json.load(fh).get("functions", {})
    keys = list(functions)
    counts = {key: len(f.get("samples") or []) for key, f in functions.items()}
    out = {"functions": {}}
    for i, key in enumerate(keys):
        part = "%s.part%d" % (out_path, i)
        budget = float(spec.get("replay_timeout", 10)) * 2 * max(1, counts.get(key, 0)) + 30
        try:
            proc = subprocess.run([sys.executable, os.path.abspath(__file__), "replay-one", spec_path, trace_path,
                                   key, part], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, timeout=budget)
        except subprocess.TimeoutExpired:
            out["functions"][key] = {"status": "replay-timeout", "kept": [], "dropped": {}, "examples": {},
                                     "error": "the replay ran past %ss" % budget}
            continue
        try:
            with open(part) as fh:
                out["functions"][key] = json.load(fh)
            os.unlink(part)
        except (OSError, ValueError):
            tail = proc.stdout.decode("utf-8", "replace")[-500:]
            out["functions"][key] = {"status": "replay-crashed", "kept": [], "dropped": {},
                                     "examples": {}, "error": "exit %s: %s" % (proc.returncode, tail)}
    _write(out_path, out)
    return 0


def replay_one_main(spec_path, trace_path, key, out_path):
    with open(spec_path) as fh:
        spec = json.load(fh)
    with open(trace_path) as fh:
        traced = json.load(fh)["functions"][key]
    by_key = {t["key"]: t for t in spec["targets"]}
    setup_paths(spec, [by_key[key]])
    sys.path.append(_HERE)  # r2e_carve_compare, after the repo's own modules
    # inside the run's remote folder, which carving removes: no empty folders left in /tmp
    os.chdir(tempfile.mkdtemp(prefix="r2e-carve-replay-", dir=os.path.dirname(os.path.abspath(out_path))))
    timeout = float(spec.get("replay_timeout", 10))
    entry = {"status": "no-samples", "kept": [], "dropped": {}, "examples": {}}
    if traced["samples"]:
        try:
            fn = locate(spec, by_key[key])[2]
        except Exception as exc:
            entry["status"] = "import-failed"
            entry["error"] = clip("%s: %s" % (type(exc).__name__, exc), 500)
            fn = None
        if fn is not None:
            nondeterministic = False
            for sample in traced["samples"]:
                verdict, why = check_sample(fn, sample, timeout)
                if verdict == "kept":
                    entry["kept"].append(sample)
                    continue
                entry["dropped"][verdict] = entry["dropped"].get(verdict, 0) + 1
                entry["examples"].setdefault(verdict, why)
                if verdict == "nondeterministic":
                    nondeterministic = True
            if nondeterministic:
                entry["status"] = "nondeterministic"
                entry["kept"] = []
            else:
                entry["status"] = "ok" if entry["kept"] else "none-faithful"
    _write(out_path, entry)
    sys.stdout.flush()
    os._exit(0)


def _write(path, data):
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(data, fh)
    os.replace(tmp, path)


def main(argv):
    if len(argv) == 4 and argv[1] == "trace":
        trace_main(argv[2], argv[3])
    elif len(argv) == 5 and argv[1] == "replay":
        return replay_main(argv[2], argv[3], argv[4])
    elif len(argv) == 6 and argv[1] == "replay-one":
        replay_one_main(argv[2], argv[3], argv[4], argv[5])
    else:
        sys.stderr.write("usage: tracer.py trace SPEC.json OUT.json | replay SPEC.json TRACE.json OUT.json\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
