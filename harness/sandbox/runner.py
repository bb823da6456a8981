"""The equivalence-harness runner. It runs INSIDE the target environment, in the repo's interpreter.

Standard library + coverage only; Python >= 3.8 syntax. Copied into the environment as one file
and run as ``python runner.py SPEC.json OUT.json``.

Who may say what. The code under test can do anything its process can: read /proc, write any file
the runner writes, monkeypatch the runner, fork, exit early. So no verdict, count or coverage figure
is ever taken from a process that has run test code:

- the PARENT (this command) never imports the repo or the test. It runs the tests twice, each time
  in a fresh "zygote" child (``--zygote``), talks to it over pipes it created, judges the runs,
  combines the coverage data itself and writes OUT.json;
- the ZYGOTE imports the repo's module and installs the target (reference copy, candidate,
  capture wrapper), but never loads the test file. For each test it forks a test process and
  reports that process's outcome: a test counts as passed only when its own process reported
  "passed" over a pipe private to that test AND exited with status 0, seen by waitpid;
- each TEST PROCESS loads the test file, runs one test under coverage and sends its outcome, its
  captured calls and its raw coverage data (not a summary) to the zygote, then exits.

A test can therefore only lie about itself, and only through the raw coverage data the parent
reads; the parent judges a suite whose data shows that the function never ran as invalid.

valid  <=>  at least one test ran, none failed or errored, the function ran (coverage data, or
            captured calls where coverage is unavailable), each run ended as the protocol says,
            and the second run agrees with the first (same outcomes, same captured outputs).

SPEC.json keys: repo_root, path (relative to repo_root), name, class_name (or null),
start_line, end_line (1-based, of the function's def), test_file, candidate_file (or null),
per_test_timeout, run_timeout, runs (default 2), max_captures.
"""

import base64
import copy
import hashlib
import importlib
import importlib.util
import json
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import types
import unittest

MESSAGE_LIMIT = 2000
REPR_LIMIT = 300
TEST_MODULE = "r2e_equivalence_test"
_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")
# A test that swallows the per-test alarm is killed this long after its timeout.
KILL_GRACE = 2.0


# --------------------------------------------------------------------------- shared helpers

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



# --------------------------------------------------------------------------- pipes

def seal_process():
    """Make this process non-dumpable: processes of the same user without CAP_SYS_PTRACE (whatever
    a test leaves running) can no longer open its /proc/PID/fd pipes, read or write its memory, or
    ptrace it. Linux only; elsewhere the pipes are merely unnamed."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0
    except Exception:
        pass


def _send(fd, record):
    """One JSON line on a pipe (loops: a record may exceed the pipe's atomic write size)."""
    data = (json.dumps(record) + "\n").encode("utf-8")
    while data:
        data = data[os.write(fd, data):]


class LineReader(object):
    """JSON lines from a pipe; a malformed line becomes {"kind": "garbage"}."""

    def __init__(self, fd):
        self.fd, self.buf, self.eof = fd, b"", False

    def read_once(self):
        chunk = os.read(self.fd, 65536)
        if chunk:
            self.buf += chunk
        else:
            self.eof = True

    def pop(self):
        """The next complete record already read, or None."""
        if b"\n" not in self.buf:
            return None
        line, self.buf = self.buf.split(b"\n", 1)
        try:
            record = json.loads(line.decode("utf-8"))
        except ValueError:
            record = None
        return record if isinstance(record, dict) else {"kind": "garbage"}

    def next(self, deadline):
        """The next record, or None at EOF or when `deadline` (time.time()) passes."""
        while True:
            record = self.pop()
            if record is not None or self.eof:
                return record
            left = deadline - time.time()
            if left <= 0:
                return None
            ready, _, _ = select.select([self.fd], [], [], min(left, 1.0))
            if ready:
                self.read_once()


# --------------------------------------------------------------------------- test process

def test_process(spec, index, capture, out_fd):
    """Load the test file, run test number `index` under coverage, report it on `out_fd`, exit."""
    send = _send  # bound before any test code runs: a test that patches the module gets no say here
    getpid, exit_now = os.getpid, os._exit
    report = {"kind": "test", "pid": None, "index": index, "ids": None, "load_error": None,
              "coverage": None, "coverage_error": None}
    module_file = spec["module_file"]
    cov = None
    try:
        cov = _coverage_for(module_file)
        cov.start()
    except Exception as exc:
        report["coverage_error"] = "coverage unavailable: %s" % exc
        cov = None
    tests = []
    try:
        test_spec = importlib.util.spec_from_file_location(TEST_MODULE, spec["test_file"])
        test_module = importlib.util.module_from_spec(test_spec)
        sys.modules[TEST_MODULE] = test_module
        test_spec.loader.exec_module(test_module)
        tests = collect_tests(test_module)
    except SystemExit as exc:
        report["load_error"] = "the test called sys.exit(%r) while loading" % (exc.code,)
    except BaseException:
        report["load_error"] = _clip(traceback.format_exc(), MESSAGE_LIMIT)
    report["ids"] = [t[0] for t in tests]
    send(out_fd, {"kind": "loaded", "pid": getpid(), "ids": report["ids"], "load_error": report["load_error"]})
    outcome = None
    if report["load_error"] is None and index < len(tests):
        t0 = time.time()
        try:
            outcome, message = run_one(tests[index][1], float(spec.get("per_test_timeout", 30)))
        except SystemExit as exc:
            outcome, message = "errored", "the test called sys.exit(%r)" % (exc.code,)
        except BaseException:  # a timeout raised outside the test's own try blocks
            outcome, message = "errored", traceback.format_exc()
        report.update(id=tests[index][0], outcome=outcome, message=_clip(message, MESSAGE_LIMIT),
                      duration=round(time.time() - t0, 4))
    if cov is not None:
        try:
            cov.stop()
            report["coverage"] = base64.b64encode(cov.get_data().dumps()).decode("ascii")
        except Exception as exc:
            report["coverage_error"] = "coverage data failed: %s" % exc
    report["captures"] = capture.calls
    report["captured_calls"] = capture.total
    report["pid"] = getpid()  # a forked copy of this process that got here is not this process
    sys.stdout.flush()
    sys.stderr.flush()
    send(out_fd, report)
    exit_now(0 if outcome in ("passed", "skipped") else 1)  # no atexit handler of the test gets a say


def _coverage_for(module_file):
    import coverage

    cov = coverage.Coverage(branch=True, include=[module_file], data_file=None)
    cov.set_option("run:disable_warnings", ["no-data-collected", "module-not-measured"])
    return cov


# --------------------------------------------------------------------------- zygote

def zygote_main(spec_fd, report_fd):
    """Import the module, install the target, then fork one test process per test (see the top)."""
    seal_process()  # before any repo code runs: the test processes it forks stay sealed out too
    with os.fdopen(spec_fd, "rb") as fh:
        spec = json.loads(fh.read().decode("utf-8"))
    me = os.getpid()

    def emit(record):
        record["zygote"] = me
        _send(report_fd, record)

    repo_root = os.path.abspath(spec["repo_root"])
    module_file = os.path.abspath(os.path.join(repo_root, spec["path"]))
    spec["module_file"] = module_file
    import_root, modname = module_name_for(repo_root, spec["path"])
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    for entry in (repo_root, import_root):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    # The tests' working folder is the runner's scratch folder: files they write never land in the
    # checkout, which later functions of the same repo (same container) still use.
    os.chdir(spec["scratch"])
    capture = Capture(int(spec.get("max_captures", 50)))
    try:
        module = importlib.import_module(modname)
        if os.path.abspath(getattr(module, "__file__", "") or "") != module_file:
            raise ImportError("%s resolved to %s, not %s" % (modname, getattr(module, "__file__", None), module_file))
        install_target(module, spec, capture)
    except SystemExit as exc:
        emit({"kind": "load_error", "error": "the module called sys.exit(%r) while loading" % (exc.code,)})
        os._exit(1)
    except BaseException:
        emit({"kind": "load_error", "error": _clip(traceback.format_exc(), MESSAGE_LIMIT)})
        os._exit(1)
    try:  # coverage's lazy imports happen once here, not in every test process
        warm = _coverage_for(module_file)
        warm.start()
        warm.stop()
        warm.get_data().dumps()
    except Exception:
        pass  # each test process reports it unavailable
    sys.stdout.flush()
    sys.stderr.flush()
    per_test = float(spec.get("per_test_timeout", 30))
    ids, index = None, 0
    while ids is None or index < len(ids):
        result = fork_test(spec, index, capture, report_fd, per_test)
        if ids is None:
            if result.get("ids") is None or result.get("load_error"):
                emit({"kind": "load_error", "error": result.get("load_error") or result.get("message")})
                os._exit(1)
            ids = result["ids"]
            emit({"kind": "ids", "ids": ids})
            if not ids:
                break
        elif result.get("ids") is not None and result["ids"] != ids:
            result.update(outcome="errored", message="the test file listed other tests in this process")
        result["id"] = ids[index]
        emit(result)
        index += 1
    emit({"kind": "end"})
    os._exit(0)


def fork_test(spec, index, capture, report_fd, per_test):
    """Run test `index` in a forked process; its outcome as this zygote saw it."""
    read_fd, write_fd = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    started = time.time()
    pid = os.fork()
    if pid == 0:  # the test process
        try:
            os.close(read_fd)
            os.close(report_fd)  # the zygote's channel to the parent is not the test's to write
            test_process(spec, index, capture, write_fd)
        finally:
            os._exit(70)
    os.close(write_fd)
    reader = LineReader(read_fd)
    loaded = reader.next(time.time() + 10 ** 6)  # loading is bounded by the parent's run timeout
    report, killed = None, False
    if loaded is not None and loaded.get("kind") == "loaded":
        limit = time.time() + per_test + KILL_GRACE if per_test > 0 else time.time() + 10 ** 6
        report = reader.next(limit)
        if report is None and not reader.eof:
            killed = True
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    _, status = os.waitpid(pid, 0)
    os.close(read_fd)
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else -os.WTERMSIG(status)
    out = {"kind": "test", "index": index, "outcome": "errored", "message": "", "exit_status": code,
           "duration": round(time.time() - started, 4), "captures": [], "captured_calls": 0,
           "coverage": None, "coverage_error": None, "ids": None, "load_error": None}
    if loaded is None or loaded.get("kind") != "loaded" or loaded.get("pid") != pid:
        out["message"] = "the test process exited (status %s) before its tests were listed" % code
        return out
    out["ids"], out["load_error"] = loaded.get("ids"), loaded.get("load_error")
    if killed:
        out.update(outcome="timeout", message="the test ran past the per-test timeout and was killed")
        return out
    if report is None or report.get("kind") != "test" or report.get("pid") != pid:
        out["message"] = "the test process exited (status %s) without reporting its outcome" % code
        return out
    for key in ("outcome", "message", "duration", "captures", "captured_calls", "coverage", "coverage_error"):
        if key in report:
            out[key] = report[key]
    if out["load_error"]:
        return out
    if out["outcome"] not in ("passed", "failed", "errored", "skipped", "timeout"):
        out.update(outcome="errored", message="the test process reported an unknown outcome")
    elif out["outcome"] in ("passed", "skipped") and code != 0:
        out.update(outcome="errored", message="the test process reported %s but exited with status %s"
                   % (out["outcome"], code))
    return out


# --------------------------------------------------------------------------- parent side

def run_child(spec, run_timeout):
    """One run: a fresh zygote, its records read incrementally; the run as this parent saw it."""
    spec_r, spec_w = os.pipe()
    report_r, report_w = os.pipe()
    started = time.time()
    proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--zygote", str(spec_r), str(report_w)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            pass_fds=(spec_r, report_w), start_new_session=True)
    os.close(spec_r)
    os.close(report_w)
    with os.fdopen(spec_w, "wb") as fh:
        fh.write(json.dumps(spec).encode("utf-8"))
    output = bytearray()
    deadline = started + run_timeout
    reader = LineReader(report_r)
    records = []
    out_fd = proc.stdout.fileno()
    out_open = True
    while time.time() < deadline and not reader.eof:
        fds = [report_r] + ([out_fd] if out_open else [])
        ready, _, _ = select.select(fds, [], [], min(1.0, max(0.0, deadline - time.time())))
        if out_fd in ready:
            chunk = os.read(out_fd, 65536)
            if not chunk:
                out_open = False
            elif len(output) < MESSAGE_LIMIT * 8:
                output += chunk
        if report_r in ready:
            reader.read_once()
        record = reader.pop()
        while record is not None:
            records.append(record)
            record = reader.pop()
    timed_out = not reader.eof
    if not timed_out:  # the zygote closed its channel: give it a moment to exit
        try:
            proc.wait(timeout=max(0.1, min(5.0, deadline - time.time())))
        except subprocess.TimeoutExpired:
            timed_out = True
    try:  # whatever the tests left running in the zygote's session goes with it
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass
    proc.wait()
    if out_open:
        while True:
            ready, _, _ = select.select([out_fd], [], [], 0.2)
            chunk = os.read(out_fd, 65536) if ready else b""
            if not chunk:
                break
            if len(output) < MESSAGE_LIMIT * 8:
                output += chunk
    proc.stdout.close()
    os.close(report_r)
    run = {"exit_code": None if timed_out else proc.returncode, "timed_out": timed_out,
           "wall_time": round(time.time() - started, 4),
           "output": _clip(bytes(output).decode("utf-8", "replace"), MESSAGE_LIMIT * 2)}
    parsed, problem = parse_records(records, proc.pid, run["exit_code"])
    if problem:
        run["problem"] = problem
    run["parsed"] = None if timed_out and parsed is None else parsed
    return run


def parse_records(records, zygote_pid, exit_code):
    """(parsed run, problem) from the zygote's records; parsed is None when the run has no result.

    The records must come as the zygote writes them: a load error, or the test ids, each test once
    in order, then the end. Anything else (a record injected into the channel) voids the run."""
    parsed = {"tests": [], "load_error": None, "captures": [], "captured_calls": 0, "coverage_data": [],
              "coverage_errors": []}
    if any(r.get("zygote") != zygote_pid for r in records):
        return None, "a record on the runner's channel came from another process"
    kinds = [r.get("kind") for r in records]
    if kinds and kinds[0] == "load_error":
        if len(records) != 1:
            return None, "records after the load error"
        parsed["load_error"] = _clip(str(records[0].get("error")), MESSAGE_LIMIT)
        return parsed, None
    if not kinds or kinds[0] != "ids":
        return None, "the run ended without reporting (exit code %s)" % exit_code
    ids = records[0].get("ids")
    if not isinstance(ids, list):
        return None, "malformed test ids"
    ended = False
    for position, record in enumerate(records[1:]):
        kind = record.get("kind")
        if ended or kind not in ("test", "end"):
            return None, "records out of order (%s after %s)" % (kind, "the end" if ended else "the tests")
        if kind == "end":
            if position != len(ids):
                return None, "the run ended after %d of %d tests" % (position, len(ids))
            ended = True
            continue
        if record.get("index") != position or position >= len(ids) or record.get("id") != ids[position]:
            return None, "records out of order (test %r at position %d)" % (record.get("index"), position)
        parsed["tests"].append({"id": str(record.get("id")), "outcome": record.get("outcome"),
                                "message": _clip(str(record.get("message") or ""), MESSAGE_LIMIT),
                                "duration": record.get("duration")})
        parsed["captures"].extend(record.get("captures") or [])
        parsed["captured_calls"] += int(record.get("captured_calls") or 0)
        if record.get("coverage"):
            parsed["coverage_data"].append(record["coverage"])
        if record.get("coverage_error"):
            parsed["coverage_errors"].append(record["coverage_error"])
    if not ended:
        if not parsed["tests"]:
            return None, "the run ended without reporting (exit code %s)" % exit_code
        return parsed, "the run ended before its last test (exit code %s)" % exit_code
    if exit_code != 0:
        return parsed, "exit code %s after the run's end" % exit_code
    return parsed, None


def combine_coverage(spec, blobs, errors):
    """Coverage of the function from the tests' raw coverage data, combined and analysed here."""
    module_file = os.path.abspath(os.path.join(spec["repo_root"], spec["path"]))
    try:
        import coverage
        from coverage import CoverageData
    except Exception as exc:
        return {"source": "none", "error": "coverage unavailable: %s" % exc}
    if not blobs:
        return {"source": "none", "error": (errors[0] if errors else "the tests sent no coverage data")}
    cov = coverage.Coverage(branch=True, include=[module_file], data_file=None)
    data = cov.get_data()
    data.add_arcs({module_file: set()})  # branch data even when no line of the module ran
    for blob in blobs:
        part = CoverageData(no_disk=True)
        part.loads(base64.b64decode(blob))
        data.update(part)
    return function_coverage(cov, spec, module_file)


def function_coverage(cov, spec, module_file):
    """Coverage of the function alone: coverage's per-function JSON region, or the line range."""
    fd, tmp = tempfile.mkstemp(prefix="r2e-coverage-", suffix=".json")
    os.close(fd)
    try:
        # the module named: a module no test ran is reported (0 lines), not "no data"
        cov.json_report(morfs=[module_file], outfile=tmp, include=[module_file])
        with open(tmp) as fh:
            report = json.load(fh)
    finally:
        if os.path.exists(tmp):  # coverage removes its output when the report fails
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



def _signature(parsed):
    outcomes = [(t["id"], t["outcome"]) for t in parsed["tests"]]
    calls = [json.dumps(c, sort_keys=True) for c in parsed["captures"]]
    return outcomes, [_ADDRESS.sub("0x?", c) for c in calls], parsed["captured_calls"]



def judge(runs, spec):
    """Validity and the reasons against it, from what the parent itself saw of each run."""
    reasons = []
    candidate = bool(spec.get("candidate_file"))
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
        if run.get("problem"):
            reasons.append("%s: %s" % (label, run["problem"]))
        counts = parsed["counts"]
        if counts["run"] == 0:
            reasons.append("%s: no test ran" % label)
            continue
        if counts["failed"] or counts["errored"]:
            reasons.append("%s: %d failed, %d errored" % (label, counts["failed"], counts["errored"]))
        cov = run.get("coverage") or {}
        measured = cov.get("source") not in (None, "none")
        if not candidate and measured:
            if not cov.get("covered_lines") and not cov.get("executed_branches"):
                reasons.append("%s: the coverage data shows the function never ran" % label)
        elif not candidate and run.get("coverage_expected"):
            reasons.append("%s: the tests sent no usable coverage data (%s)" % (label, cov.get("error")))
        elif parsed["captured_calls"] == 0:
            reasons.append("%s: the function was never called" % label)
    parsed_all = [r["parsed"] for r in runs if r["parsed"] is not None]
    if len(parsed_all) == len(runs) and len(runs) > 1:
        base = _signature(parsed_all[0])
        for i, other in enumerate(parsed_all[1:], start=2):
            if _signature(other) != base:
                reasons.append("run %d disagrees with run 1 (non-deterministic test or function)" % i)
    return not reasons, reasons


def coverage_importable():
    try:
        import coverage  # noqa: F401
    except Exception:
        return False
    return True


def parent_main(spec_path, out_path):
    seal_process()
    started = time.time()
    with open(spec_path) as fh:
        spec = json.load(fh)
    spec["scratch"] = os.path.dirname(os.path.abspath(spec_path))
    runs_wanted = max(1, int(spec.get("runs", 2)))
    run_timeout = float(spec.get("run_timeout", 120))
    expect_coverage = coverage_importable()
    runs = []
    for _ in range(runs_wanted):
        run = run_child(spec, run_timeout)
        parsed = run["parsed"]
        if parsed is not None:
            parsed["counts"] = count_outcomes(parsed["tests"])
            try:
                run["coverage"] = combine_coverage(spec, parsed["coverage_data"], parsed["coverage_errors"])
            except Exception as exc:  # undecodable data is no data
                run["coverage"] = {"source": "none", "error": "coverage data unreadable: %s" % type(exc).__name__}
            executed = [t for t in parsed["tests"] if t["outcome"] not in ("skipped",)]
            run["coverage_expected"] = expect_coverage and bool(executed)
        runs.append(run)
        if run["timed_out"]:
            break  # a second run of a test that never finishes only wastes time
    valid, reasons = judge(runs, spec)
    if len(runs) != runs_wanted:
        valid = False
    first = runs[0]["parsed"] or {}
    counts = first.get("counts") or {"run": 0, "passed": 0, "failed": 0, "errored": 0, "skipped": 0}
    result = {
        "runner_version": 2,
        "valid": valid,
        "reasons": reasons,
        "counts": counts,
        "tests": first.get("tests", []),
        "load_error": first.get("load_error"),
        "coverage": runs[0].get("coverage"),
        "captures": first.get("captures", [])[: int(spec.get("max_captures", 50))],
        "captured_calls": first.get("captured_calls", 0),
        "runs": [{k: v for k, v in r.items() if k not in ("parsed", "coverage", "coverage_expected")} for r in runs],
        "timed_out": any(r["timed_out"] for r in runs),
        "duration": round(time.time() - started, 4),
        "mode": "candidate" if spec.get("candidate_file") else "original",
    }
    body = json.dumps(result, indent=1).encode("utf-8")
    tmp = out_path + ".tmp"
    with open(tmp, "wb") as fh:
        fh.write(body)
    os.replace(tmp, out_path)
    cov = result["coverage"] or {}
    # The digest lets the caller check that OUT.json is still the file this parent wrote.
    print("r2e-runner: valid=%s run=%d passed=%d failed=%d errored=%d branch_coverage=%s sha256=%s" % (
        valid, counts["run"], counts["passed"], counts["failed"], counts["errored"], cov.get("branch_coverage"),
        hashlib.sha256(body).hexdigest()))
    return 0


def main(argv):
    if len(argv) == 4 and argv[1] == "--zygote":
        zygote_main(int(argv[2]), int(argv[3]))
        return 0
    if len(argv) != 3:
        sys.stderr.write("usage: runner.py SPEC.json OUT.json\n")
        return 2
    return parent_main(argv[1], argv[2])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
