"""The equivalence-harness runner. It runs INSIDE the target environment, in the repo's interpreter.

Standard library + coverage only; Python >= 3.8 syntax. Copied into the environment as one file
and run as ``python runner.py SPEC.json OUT.json``. The parent process runs the test twice, each
time in a fresh child process (``--child``), and judges the results:

valid  <=>  at least one test ran, none failed or errored, each child's exit code agrees with
            its parsed results, and the second run agrees with the first (same outcomes, same
            captured outputs).

SPEC.json keys: repo_root, path (relative to repo_root), name, class_name (or null),
start_line, end_line (1-based, of the function's def), test_file, candidate_file (or null),
per_test_timeout, run_timeout, runs (default 2), max_captures.
"""

import copy
import importlib
import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import time
import traceback
import types
import unittest
import uuid

NONCE_ENV = "R2E_RUNNER_NONCE"
MESSAGE_LIMIT = 2000
REPR_LIMIT = 300
TEST_MODULE = "r2e_equivalence_test"
_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")


# --------------------------------------------------------------------------- child side

class TestTimeout(BaseException):
    """Raised in the test by SIGALRM when it runs past the per-test timeout."""


def module_name_for(repo_root, rel_path):
    """(import root, dotted module name) for a file, walking up through packages."""
    full = os.path.abspath(os.path.join(repo_root, rel_path))
    folder, filename = os.path.split(full)
    stem = filename[:-3] if filename.endswith(".py") else filename
    parts = [] if stem == "__init__" else [stem]
    while os.path.exists(os.path.join(folder, "__init__.py")):
        folder, pkg = os.path.split(folder)
        parts.insert(0, pkg)
    if not parts:  # a top-level __init__.py without a package folder above it
        parts = [os.path.basename(os.path.dirname(full))]
        folder = os.path.dirname(os.path.dirname(full))
    return folder, ".".join(parts)


def _retarget_code(code, filename):
    """A copy of `code` (and its nested code objects) that reports `filename`: coverage ignores it."""
    consts = tuple(_retarget_code(c, filename) if isinstance(c, types.CodeType) else c for c in code.co_consts)
    return code.replace(co_filename=filename, co_consts=consts)


def copy_function(fn, new_name=None):
    """An independent function object sharing `fn`'s globals, defaults and closure."""
    code = _retarget_code(fn.__code__, "<reference %s>" % fn.__qualname__)
    clone = types.FunctionType(code, fn.__globals__, new_name or fn.__name__, fn.__defaults__, fn.__closure__)
    clone.__kwdefaults__ = copy.copy(fn.__kwdefaults__)
    clone.__dict__.update(fn.__dict__)
    clone.__qualname__ = fn.__qualname__
    clone.__doc__ = fn.__doc__
    clone.__module__ = fn.__module__
    return clone


def _unwrap_member(member):
    """(plain function, rewrap) for a class member that is a function, staticmethod or classmethod."""
    if isinstance(member, staticmethod):
        return member.__func__, staticmethod
    if isinstance(member, classmethod):
        return member.__func__, classmethod
    if isinstance(member, property) and member.fget is not None:
        return member.fget, lambda f: property(f, member.fset, member.fdel, member.__doc__)
    if isinstance(member, types.FunctionType):
        return member, lambda f: f
    return None, None


class Capture(object):
    """Records the outermost calls of the function under test: inputs and outputs as reprs."""

    def __init__(self, limit):
        self.limit = limit
        self.calls = []
        self.total = 0
        self.depth = 0

    def wrap(self, fn):
        capture = self

        def recorded(*args, **kwargs):
            if capture.depth > 0:
                return fn(*args, **kwargs)
            capture.depth += 1
            entry = {"args": _safe_repr(args), "kwargs": _safe_repr(kwargs)}
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                entry["raised"] = type(exc).__name__ + ": " + _clip(str(exc), REPR_LIMIT)
                capture._add(entry)
                raise
            finally:
                capture.depth -= 1
            entry["result"] = _safe_repr(result)
            capture._add(entry)
            return result

        for attr in ("__name__", "__qualname__", "__doc__", "__module__"):
            setattr(recorded, attr, getattr(fn, attr, None))
        recorded.__wrapped__ = fn
        return recorded

    def _add(self, entry):
        self.total += 1
        if len(self.calls) < self.limit:
            self.calls.append(entry)


def _safe_repr(value):
    try:
        text = repr(value)
    except BaseException as exc:  # a broken __repr__ must not break the run
        text = "<unrepresentable %s: %s>" % (type(value).__name__, type(exc).__name__)
    return _clip(text, REPR_LIMIT)


def _clip(text, limit):
    return text if len(text) <= limit else text[: limit - 3] + "..."


def install_target(module, spec, capture):
    """Make the reference copy, substitute the candidate (candidate mode), wrap for capture."""
    name, class_name = spec["name"], spec.get("class_name")
    owner = getattr(module, class_name) if class_name else module
    member = owner.__dict__[name] if class_name else getattr(module, name)
    fn, rewrap = _unwrap_member(member) if class_name else (member, None)
    if not isinstance(fn, types.FunctionType):
        raise TypeError("%s is not a plain Python function (%s)" % (name, type(member).__name__))
    reference = copy_function(fn)
    if class_name:
        ref_class = type(owner)(owner.__name__, (owner,), {name: rewrap(reference), "__module__": owner.__module__})
        ref_class.__qualname__ = owner.__qualname__
        setattr(module, "reference_" + class_name, ref_class)
    else:
        setattr(module, "reference_" + name, reference)

    current = fn
    if spec.get("candidate_file"):
        with open(spec["candidate_file"]) as fh:
            source = fh.read()
        namespace = {}
        exec(compile(_dedent(source), "<candidate>", "exec"), module.__dict__, namespace)
        candidate = namespace.get(name)
        if not isinstance(candidate, types.FunctionType):
            raise ValueError("the candidate does not define a function named %r" % name)
        current = candidate
    wrapped = capture.wrap(current)
    if class_name:
        setattr(owner, name, rewrap(wrapped))
    else:
        setattr(module, name, wrapped)


def _dedent(source):
    import textwrap

    return textwrap.dedent(source)


def collect_tests(test_module):
    """(test id, callable) pairs: unittest TestCases, then pytest-style functions and classes."""
    tests = []
    suite = unittest.defaultTestLoader.loadTestsFromModule(test_module)

    def flatten(s):
        for item in s:
            if isinstance(item, unittest.TestSuite):
                flatten(item)
            else:
                tests.append((item.id().replace(TEST_MODULE + ".", "", 1), item))

    flatten(suite)
    for attr, value in sorted(vars(test_module).items()):
        if getattr(value, "__module__", None) != TEST_MODULE:
            continue
        if attr.startswith("test") and isinstance(value, types.FunctionType):
            tests.append((attr, value))
        elif attr.startswith("Test") and isinstance(value, type) and not issubclass(value, unittest.TestCase):
            for meth in sorted(vars(value)):
                if meth.startswith("test") and callable(getattr(value, meth)):
                    tests.append(("%s.%s" % (attr, meth), _pytest_method(value, meth)))
    return tests


def _pytest_method(cls, meth):
    def run():
        instance = cls()
        if hasattr(instance, "setup_method"):
            instance.setup_method(getattr(instance, meth))
        try:
            getattr(instance, meth)()
        finally:
            if hasattr(instance, "teardown_method"):
                instance.teardown_method(getattr(instance, meth))
    return run


class _Result(unittest.TestResult):
    def __init__(self):
        unittest.TestResult.__init__(self)
        self.outcome, self.message = "passed", ""

    def _exc(self, err):
        return "".join(traceback.format_exception(*err))

    def addFailure(self, test, err):
        self.outcome, self.message = "failed", self._exc(err)

    def addError(self, test, err):
        timed_out = err[0] is TestTimeout
        self.outcome, self.message = ("timeout" if timed_out else "errored"), self._exc(err)

    def addSkip(self, test, reason):
        self.outcome, self.message = "skipped", reason

    def addExpectedFailure(self, test, err):
        self.outcome, self.message = "passed", "expected failure"

    def addUnexpectedSuccess(self, test):
        self.outcome, self.message = "failed", "unexpected success"

    def addSubTest(self, test, subtest, err):
        if err is not None:
            failed = issubclass(err[0], test.failureException)
            self.outcome = "failed" if failed else ("timeout" if err[0] is TestTimeout else "errored")
            self.message = self._exc(err)


def _on_alarm(signum, frame):
    raise TestTimeout("test exceeded the per-test timeout")


def run_one(test, per_test_timeout):
    """Run one test with a per-test alarm; return (outcome, message)."""
    use_alarm = hasattr(signal, "setitimer") and per_test_timeout and per_test_timeout > 0
    if use_alarm:
        signal.signal(signal.SIGALRM, _on_alarm)
        # Re-fires every half second in case the test swallows the first one.
        signal.setitimer(signal.ITIMER_REAL, per_test_timeout, 0.5)
    try:
        if isinstance(test, unittest.TestCase):
            result = _Result()
            test.run(result)
            return result.outcome, result.message
        try:
            test()
        except AssertionError:
            return "failed", traceback.format_exc()
        except unittest.SkipTest as exc:
            return "skipped", str(exc)
        except TestTimeout:
            return "timeout", traceback.format_exc()
        except BaseException:
            return "errored", traceback.format_exc()
        return "passed", ""
    finally:
        if use_alarm:
            signal.setitimer(signal.ITIMER_REAL, 0, 0)


def function_coverage(cov, spec, module_file):
    """Coverage of the function alone: coverage's per-function JSON region, or the line range."""
    tmp = os.path.join(os.path.dirname(os.path.abspath(spec["out"])), "coverage-%s.json" % uuid.uuid4().hex)
    try:
        cov.json_report(outfile=tmp, include=[module_file])
        with open(tmp) as fh:
            report = json.load(fh)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    files = report.get("files", {})
    data = None
    for fname, fdata in files.items():
        if os.path.abspath(os.path.join(spec["repo_root"], fname)) == module_file or os.path.abspath(fname) == module_file:
            data = fdata
    if data is None:
        return {"source": "none", "error": "coverage has no data for %s" % module_file}
    qualname = ("%s.%s" % (spec["class_name"], spec["name"])) if spec.get("class_name") else spec["name"]
    region = (data.get("functions") or {}).get(qualname)
    start = region.get("start_line") if region else None  # coverage < 7.13.1 has no start_line
    if region is not None and (start is None or spec["start_line"] <= start <= spec["end_line"]):
        out = _region_summary(region)
        out["source"] = "coverage-functions"
        return out
    return _range_summary(data, spec)


def _region_summary(region):
    s = region.get("summary", {})
    nb, cb = s.get("num_branches", 0), s.get("covered_branches", 0)
    ns, cl = s.get("num_statements", 0), s.get("covered_lines", 0)
    return {
        "num_statements": ns, "covered_lines": cl,
        "num_branches": nb, "covered_branches": cb,
        "line_coverage": (cl / ns) if ns else 1.0,
        "branch_coverage": (cb / nb) if nb else 1.0,
        "executed_lines": region.get("executed_lines", []),
        "missing_lines": region.get("missing_lines", []),
        "executed_branches": region.get("executed_branches", []),
        "missing_branches": region.get("missing_branches", []),
    }


def _range_summary(data, spec):
    """For coverage versions without per-function regions: file data within the function's lines."""
    lo, hi = spec["start_line"], spec["end_line"]

    def inside(line):
        return lo < line <= hi

    region = {
        "executed_lines": [n for n in data.get("executed_lines", []) if inside(n)],
        "missing_lines": [n for n in data.get("missing_lines", []) if inside(n)],
        "executed_branches": [b for b in data.get("executed_branches", []) if inside(b[0])],
        "missing_branches": [b for b in data.get("missing_branches", []) if inside(b[0])],
    }
    el, ml = len(region["executed_lines"]), len(region["missing_lines"])
    eb, mb = len(region["executed_branches"]), len(region["missing_branches"])
    region["summary"] = {"num_statements": el + ml, "covered_lines": el, "num_branches": eb + mb, "covered_branches": eb}
    out = _region_summary(region)
    out["source"] = "line-range"
    return out


def child_main(spec_path, out_path):
    nonce = os.environ.pop(NONCE_ENV, "")
    started = time.time()
    with open(spec_path) as fh:
        spec = json.load(fh)
    spec["out"] = out_path
    result = {"nonce": nonce, "tests": [], "load_error": None, "coverage": None, "captures": [],
              "captured_calls": 0}
    repo_root = os.path.abspath(spec["repo_root"])
    module_file = os.path.abspath(os.path.join(repo_root, spec["path"]))
    import_root, modname = module_name_for(repo_root, spec["path"])
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    for entry in (repo_root, import_root):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    # The tests' working folder is the runner's scratch folder: files they write never land in the
    # checkout, which later functions of the same repo (same container) still use.
    os.chdir(os.path.dirname(os.path.abspath(spec_path)))

    cov = None
    try:
        import coverage

        cov = coverage.Coverage(branch=True, include=[module_file], data_file=None)
        cov.start()
    except Exception as exc:
        result["coverage"] = {"source": "none", "error": "coverage unavailable: %s" % exc}
        cov = None

    capture = Capture(int(spec.get("max_captures", 50)))
    tests = []
    try:
        module = importlib.import_module(modname)
        if os.path.abspath(getattr(module, "__file__", "") or "") != module_file:
            raise ImportError("%s resolved to %s, not %s" % (modname, getattr(module, "__file__", None), module_file))
        install_target(module, spec, capture)
        test_spec = importlib.util.spec_from_file_location(TEST_MODULE, spec["test_file"])
        test_module = importlib.util.module_from_spec(test_spec)
        sys.modules[TEST_MODULE] = test_module
        test_spec.loader.exec_module(test_module)
        tests = collect_tests(test_module)
    except SystemExit as exc:
        result["load_error"] = "the test called sys.exit(%r) while loading" % (exc.code,)
    except BaseException:
        result["load_error"] = _clip(traceback.format_exc(), MESSAGE_LIMIT)

    per_test = float(spec.get("per_test_timeout", 30))
    for test_id, test in tests:
        t0 = time.time()
        try:
            outcome, message = run_one(test, per_test)
        except SystemExit as exc:
            outcome, message = "errored", "the test called sys.exit(%r)" % (exc.code,)
        result["tests"].append({"id": test_id, "outcome": outcome, "message": _clip(message, MESSAGE_LIMIT),
                                "duration": round(time.time() - t0, 4)})

    if cov is not None:
        cov.stop()
        try:
            result["coverage"] = function_coverage(cov, spec, module_file)
        except Exception as exc:
            result["coverage"] = {"source": "none", "error": "coverage report failed: %s" % exc}
    result["captures"] = capture.calls
    result["captured_calls"] = capture.total
    result["duration"] = round(time.time() - started, 4)
    counts = count_outcomes(result["tests"])
    result["counts"] = counts
    ok = counts["run"] > 0 and counts["failed"] == 0 and counts["errored"] == 0 and result["load_error"] is None
    tmp = out_path + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(result, fh)
    os.replace(tmp, out_path)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0 if ok else 1)  # no atexit handlers of the code under test get a say


def count_outcomes(tests):
    counts = {"run": 0, "passed": 0, "failed": 0, "errored": 0, "skipped": 0}
    for t in tests:
        if t["outcome"] == "skipped":
            counts["skipped"] += 1
            continue
        counts["run"] += 1
        key = {"passed": "passed", "failed": "failed"}.get(t["outcome"], "errored")
        counts[key] += 1
    return counts


# --------------------------------------------------------------------------- parent side

def run_child(spec_path, out_path, run_timeout):
    nonce = uuid.uuid4().hex
    env = dict(os.environ)
    env[NONCE_ENV] = nonce
    started = time.time()
    proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--child", spec_path, out_path],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            env=env, start_new_session=True)
    timed_out = False
    try:
        output, _ = proc.communicate(timeout=run_timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        output, _ = proc.communicate()
    run = {"exit_code": None if timed_out else proc.returncode, "timed_out": timed_out,
           "wall_time": round(time.time() - started, 4),
           "output": _clip(output.decode("utf-8", "replace"), MESSAGE_LIMIT * 2)}
    parsed = None
    if os.path.exists(out_path):
        try:
            with open(out_path) as fh:
                parsed = json.load(fh)
        except ValueError:
            parsed = None
        os.unlink(out_path)
    if parsed is not None and parsed.get("nonce") != nonce:
        run["problem"] = "result file not written by the runner (nonce mismatch)"
        parsed = None
    run["parsed"] = parsed
    return run


def judge(runs):
    """Validity and the reasons against it, from the runs' parsed results and exit codes."""
    reasons = []
    for i, run in enumerate(runs):
        label = "run %d" % (i + 1)
        parsed = run["parsed"]
        if run["timed_out"]:
            reasons.append("%s timed out" % label)
            continue
        if parsed is None:
            reasons.append("%s produced no results (%s)" % (label, run.get("problem") or "exit code %s" % run["exit_code"]))
            continue
        if parsed.get("load_error"):
            reasons.append("%s: the test could not be loaded" % label)
            continue
        counts = parsed["counts"]
        claims_ok = counts["run"] > 0 and counts["failed"] == 0 and counts["errored"] == 0
        if claims_ok != (run["exit_code"] == 0):
            reasons.append("%s: exit code %s disagrees with the parsed results" % (label, run["exit_code"]))
        if counts["run"] == 0:
            reasons.append("%s: no test ran" % label)
        if counts["failed"] or counts["errored"]:
            reasons.append("%s: %d failed, %d errored" % (label, counts["failed"], counts["errored"]))
    parsed_all = [r["parsed"] for r in runs if r["parsed"] is not None]
    if len(parsed_all) == len(runs) and len(runs) > 1:
        base = _signature(parsed_all[0])
        for i, other in enumerate(parsed_all[1:], start=2):
            if _signature(other) != base:
                reasons.append("run %d disagrees with run 1 (non-deterministic test or function)" % i)
    return not reasons, reasons


def _signature(parsed):
    outcomes = [(t["id"], t["outcome"]) for t in parsed["tests"]]
    calls = [json.dumps(c, sort_keys=True) for c in parsed["captures"]]
    return outcomes, [_ADDRESS.sub("0x?", c) for c in calls], parsed["captured_calls"]


def parent_main(spec_path, out_path):
    started = time.time()
    with open(spec_path) as fh:
        spec = json.load(fh)
    runs_wanted = max(1, int(spec.get("runs", 2)))
    run_timeout = float(spec.get("run_timeout", 120))
    runs = []
    for i in range(runs_wanted):
        child_out = "%s.run%d.json" % (out_path, i + 1)
        runs.append(run_child(spec_path, child_out, run_timeout))
        if runs[-1]["timed_out"]:
            break  # a second run of a test that never finishes only wastes time
    valid, reasons = judge(runs) if len(runs) == runs_wanted else (False, judge(runs)[1])
    first = runs[0]["parsed"] or {}
    counts = first.get("counts") or {"run": 0, "passed": 0, "failed": 0, "errored": 0, "skipped": 0}
    result = {
        "runner_version": 1,
        "valid": valid,
        "reasons": reasons,
        "counts": counts,
        "tests": first.get("tests", []),
        "load_error": first.get("load_error"),
        "coverage": first.get("coverage"),
        "captures": first.get("captures", []),
        "captured_calls": first.get("captured_calls", 0),
        "runs": [{k: v for k, v in r.items() if k != "parsed"} for r in runs],
        "timed_out": any(r["timed_out"] for r in runs),
        "duration": round(time.time() - started, 4),
        "mode": "candidate" if spec.get("candidate_file") else "original",
    }
    tmp = out_path + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(result, fh, indent=1)
    os.replace(tmp, out_path)
    cov = result["coverage"] or {}
    print("r2e-runner: valid=%s run=%d passed=%d failed=%d errored=%d branch_coverage=%s" % (
        valid, counts["run"], counts["passed"], counts["failed"], counts["errored"], cov.get("branch_coverage")))
    return 0


def main(argv):
    if len(argv) == 4 and argv[1] == "--child":
        child_main(argv[2], argv[3])
        return 0
    if len(argv) != 3:
        sys.stderr.write("usage: runner.py SPEC.json OUT.json\n")
        return 2
    return parent_main(argv[1], argv[2])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
