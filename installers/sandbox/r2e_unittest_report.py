"""R2E's unittest runner: runs a unittest suite the way the maintainers do and records every test.

    python r2e_unittest_report.py OUT.json [--timeout S] [--ids FILE] -- WHAT...

WHAT is what follows `python` in the maintainers' command:
    -m tests.all [args]          run that module as __main__ (as `python -m tests.all` does)
    -m unittest [args]           unittest's own command line (discover, or dotted names)
    discover -s tests -p '*.py'  the same as `-m unittest discover ...`
    tests.test_x.TestA ...       dotted test names
    tests/run.py [args]          a script run as __main__

Every result object derives from unittest.TestResult, so recording hooks its methods: whichever
runner the suite uses (TextTestRunner, unittest.main, a project's own), each test is seen once.
Ids are pytest-style (`tests/test_x.py::TestA::test_b`) so both runners' maps agree; the unittest
id (`tests.test_x.TestA.test_b`) is kept in "aliases". A test that raises is FAILED (as under
pytest); a setUpClass/setUpModule error makes the tests it guards ERROR; a module that cannot be
imported is an ERROR entry for its file. --ids (or R2E_TEST_IDS) runs only the listed tests, named
either way; --timeout (or R2E_TEST_TIMEOUT) is a per-test budget enforced with SIGALRM.
"""

import doctest
import importlib
import importlib.util
import os
import re
import runpy
import signal
import sys
import threading
import traceback
import types
import unittest

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.append(_HERE)

from r2e_report_io import ERROR, FAILED, PASSED, SKIPPED, XFAIL, ReportWriter, read_ids  # noqa: E402

_FIXTURE_DESCRIPTION = re.compile(r"^(setUpClass|tearDownClass|setUpModule|tearDownModule|"
                                  r"doClassCleanups|doModuleCleanups) \((.+)\)$")
_GOOD = (PASSED, SKIPPED, XFAIL)


class TestTimeout(BaseException):
    """Raised inside a test past its budget; a BaseException so `except Exception` cannot swallow it."""


class Recorder(object):
    def __init__(self, writer, root, timeout=0.0, main_module=None):
        self.writer = writer
        self.root = root
        self.timeout = timeout
        self.main_module = main_module  # what `__main__` stands for in ids
        self.started = 0
        self.last_in_class = {}
        self.last_in_module = {}
        self._armed = False

    # -- ids -----------------------------------------------------------------------------------
    def _module_name(self, name):
        return self.main_module if name == "__main__" and self.main_module else name

    def _file_of_module(self, name):
        module = sys.modules.get(name)
        path = getattr(module, "__file__", None) if module is not None else None
        if name == self.main_module and not path:
            main = sys.modules.get("__main__")
            path = getattr(main, "__file__", None)
        if path is None:
            path = self._find_module_file(name)
        return self._relative(path) if path else name.replace(".", "/") + ".py"

    def _find_module_file(self, name):
        parts = name.split(".")
        for entry in [self.root] + [p for p in sys.path if p]:
            base = os.path.join(entry, *parts)
            for candidate in (base + ".py", os.path.join(base, "__init__.py")):
                if os.path.isfile(candidate):
                    return candidate
        return None

    def _relative(self, path):
        path = os.path.abspath(path)
        if path.endswith((".pyc", ".pyo")):
            path = path[:-1]
        rel = os.path.relpath(path, self.root)
        return None if rel.startswith("..") else rel.replace(os.sep, "/")

    def ids(self, test):
        """(canonical id, unittest id) of a test, a subtest's parent, or a failed import."""
        if isinstance(test, unittest.case._SubTest):
            test = test.test_case
        cls = type(test)
        uid = test.id()
        if cls.__name__ == "_FailedTest":  # a module discover or loadTestsFromName could not import
            name = getattr(test, "_testMethodName", uid)
            return self._file_of_module(name) or name, uid
        if isinstance(test, doctest.DocTestCase):
            dt = test._dt_test
            rel = self._relative(dt.filename) if dt.filename else None
            return ("%s::%s" % (rel, dt.name) if rel else uid), uid
        if isinstance(test, unittest.FunctionTestCase):
            func = test._testFunc
            module = self._module_name(getattr(func, "__module__", "") or "")
            return "%s::%s" % (self._file_of_module(module), func.__name__), uid
        module = self._module_name(cls.__module__)
        qualname = getattr(cls, "__qualname__", cls.__name__)
        if "<locals>" in qualname:
            qualname = cls.__name__
        method = getattr(test, "_testMethodName", None)
        if not method:
            return uid, uid
        if uid.startswith("__main__.") and self.main_module:
            uid = self.main_module + uid[len("__main__"):]
        return "%s::%s::%s" % (self._file_of_module(module), qualname.replace(".", "::"), method), uid

    # -- events --------------------------------------------------------------------------------
    def start(self, test):
        canonical, uid = self.ids(test)
        self.writer.aliases[uid] = canonical
        self.writer.running = canonical
        self.started += 1
        self._arm()

    def stop(self, test):
        self._disarm()
        canonical, _ = self.ids(test)
        if canonical not in self.writer.tests:  # a result class that reports nothing on success
            self.writer.record(canonical, PASSED)
        cls = type(test)
        self.last_in_class[(self._module_name(cls.__module__), cls.__name__)] = canonical
        self.last_in_module[self._module_name(cls.__module__)] = canonical
        self.writer.running = None
        self.writer.flush()

    def outcome(self, test, status, err=None, subtest=False):
        if type(test).__name__ == "_ErrorHolder":
            self._fixture_error(test)
            return
        canonical, uid = self.ids(test)
        self.writer.aliases.setdefault(uid, canonical)
        reason = None
        if err is not None and err[0] is not None and issubclass(err[0], TestTimeout):
            status, reason = FAILED, "timeout"
        elif type(test).__name__ == "_FailedTest":
            status, reason = ERROR, "collection"
        current = self.writer.tests.get(canonical)
        if current in (FAILED, ERROR) and status in _GOOD:
            return  # a failed subtest already failed the test
        if subtest and status in _GOOD:
            return
        self.writer.record(canonical, status, reason or self.writer.reasons.get(canonical))

    def _fixture_error(self, holder):
        """setUpClass / setUpModule errors cost the tests they guard; tearDown* the last one run."""
        match = _FIXTURE_DESCRIPTION.match(holder.description)
        if not match:
            self.writer.record(holder.description, ERROR)
            return
        kind, parent = match.groups()
        module_name, cls = self._split_class(parent) if "Class" in kind else (parent, None)
        module_name = self._module_name(module_name)
        if kind.startswith("setUp"):
            classes = [cls] if cls is not None else _test_classes(sys.modules.get(parent))
            targets = []
            for klass in classes:
                for name in unittest.defaultTestLoader.getTestCaseNames(klass):
                    targets.append(self.ids(klass(name))[0])
            if not targets:
                targets = [self._file_of_module(module_name) + ("::" + cls.__qualname__ if cls else "")]
            for target in targets:
                if self.writer.tests.get(target) != FAILED:
                    self.writer.record(target, ERROR, kind)
        else:
            last = (self.last_in_class.get((module_name, cls.__name__)) if cls is not None
                    else self.last_in_module.get(module_name))
            target = last or (self._file_of_module(module_name) + ("::" + cls.__qualname__ if cls else ""))
            if self.writer.tests.get(target) != FAILED:
                self.writer.record(target, ERROR, kind)
        self.writer.flush()

    def _split_class(self, dotted):
        parts = dotted.split(".")
        for i in range(len(parts) - 1, 0, -1):
            module = sys.modules.get(".".join(parts[:i]))
            if module is None:
                continue
            obj = module
            for attr in parts[i:]:
                obj = getattr(obj, attr, None)
            if isinstance(obj, type):
                return ".".join(parts[:i]), obj
        return dotted, None

    # -- per-test timeout ----------------------------------------------------------------------
    def _arm(self):
        if not self.timeout or threading.current_thread() is not threading.main_thread():
            return
        signal.signal(signal.SIGALRM, self._on_alarm)
        signal.setitimer(signal.ITIMER_REAL, self.timeout)
        self._armed = True

    def _disarm(self):
        if self._armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            self._armed = False

    def _on_alarm(self, signum, frame):
        if self._armed and self.writer.running:
            self._armed = False
            raise TestTimeout("test took longer than %ss (R2E_TEST_TIMEOUT)" % self.timeout)


def _test_classes(module):
    if module is None:
        return []
    return [v for v in vars(module).values() if isinstance(v, type) and issubclass(v, unittest.TestCase)]


def install_recorder(recorder):
    """Record through unittest.TestResult itself: every result class calls up to it."""
    base = unittest.result.TestResult
    original = dict((name, getattr(base, name)) for name in (
        "startTest", "stopTest", "addSuccess", "addFailure", "addError", "addSkip",
        "addExpectedFailure", "addUnexpectedSuccess", "addSubTest"))

    def startTest(self, test):
        recorder.start(test)
        return original["startTest"](self, test)

    def stopTest(self, test):
        try:
            return original["stopTest"](self, test)
        finally:
            recorder.stop(test)

    def addSuccess(self, test):
        recorder.outcome(test, PASSED)
        return original["addSuccess"](self, test)

    def addFailure(self, test, err):
        recorder.outcome(test, FAILED, err)
        return original["addFailure"](self, test, err)

    def addError(self, test, err):
        recorder.outcome(test, FAILED, err)  # an exception in a test is a failure, as pytest counts it
        return original["addError"](self, test, err)

    def addSkip(self, test, reason):
        recorder.outcome(test, SKIPPED, subtest=isinstance(test, unittest.case._SubTest))
        return original["addSkip"](self, test, reason)

    def addExpectedFailure(self, test, err):
        recorder.outcome(test, XFAIL)
        return original["addExpectedFailure"](self, test, err)

    def addUnexpectedSuccess(self, test):
        recorder.outcome(test, FAILED)
        return original["addUnexpectedSuccess"](self, test)

    def addSubTest(self, test, subtest, err):
        if err is not None:
            recorder.outcome(test, FAILED, err, subtest=True)
        return original["addSubTest"](self, test, subtest, err)

    for name, func in list(locals().items()):
        if name in original:
            setattr(base, name, func)


# -- selecting a subset ----------------------------------------------------------------------------
def flatten(suite):
    if isinstance(suite, unittest.TestSuite):
        for item in suite:
            for test in flatten(item):
                yield test
    else:
        yield suite


def select(suite, recorder, wanted):
    if wanted is None:
        return suite
    chosen = [t for t in flatten(suite) if any(i in wanted for i in recorder.ids(t))]
    return unittest.TestSuite(chosen)


def runner_class(recorder, wanted):
    class SubsetRunner(unittest.TextTestRunner):
        def run(self, test):
            return unittest.TextTestRunner.run(self, select(test, recorder, wanted))

    return SubsetRunner


def suite_of(module):
    """The suite a `tests/all.py`-style module builds: suite() and friends, load_tests, or its TestCases."""
    for name in ("suite", "test_suite", "get_suite", "all_tests", "alltests"):
        obj = getattr(module, name, None)
        if isinstance(obj, (unittest.TestSuite, unittest.TestCase)):
            return obj
        if callable(obj) and not isinstance(obj, type):
            try:
                built = obj()
            except TypeError:
                continue
            if isinstance(built, (unittest.TestSuite, unittest.TestCase)):
                return built
    return unittest.defaultTestLoader.loadTestsFromModule(module)


# -- the ways to run ---------------------------------------------------------------------------------
def run_unittest_cli(args, recorder, wanted, verbosity):
    program = unittest.main(module=None, argv=["python -m unittest"] + list(args), exit=False,
                            testRunner=runner_class(recorder, wanted), verbosity=verbosity)
    result = program.result
    if not result.testsRun:
        return 5
    return 0 if result.wasSuccessful() else 1


def run_as_main(kind, target, args, recorder, wanted, verbosity):
    """Run the module or script exactly as `python -m X` / `python X.py` would; load its suite if it ran none."""
    argv0 = target if kind == "script" else _module_path(target) or target
    if wanted is None:
        saved_argv = sys.argv
        sys.argv = [argv0] + list(args)
        code = 0
        try:
            if kind == "script":
                sys.path.insert(0, os.path.dirname(os.path.abspath(target)))
                runpy.run_path(target, run_name="__main__")
            else:
                runpy.run_module(target, run_name="__main__", alter_sys=True)
        except SystemExit as exc:
            code = _exit_code(exc.code)
        except BaseException:
            traceback.print_exc()
            recorder.writer.record(_target_file(kind, target, recorder), ERROR, "collection")
            return 1
        finally:
            sys.argv = saved_argv
        if recorder.started:
            return code
    try:
        module = _load(kind, target)
    except BaseException:
        traceback.print_exc()
        recorder.writer.record(_target_file(kind, target, recorder), ERROR, "collection")
        return 1
    runner = runner_class(recorder, wanted)(verbosity=verbosity)
    result = runner.run(suite_of(module))
    if not result.testsRun:
        return 5
    return 0 if result.wasSuccessful() else 1


def _load(kind, target):
    if kind == "module":
        return importlib.import_module(target)
    namespace = runpy.run_path(target, run_name="r2e_script")
    module = types.ModuleType("r2e_script")
    module.__dict__.update(namespace)
    return module


def _module_path(name):
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    return getattr(spec, "origin", None) if spec else None


def _target_file(kind, target, recorder):
    if kind == "script":
        return recorder._relative(target) or target
    return recorder._file_of_module(target)


def _exit_code(code):
    if code is None:
        return 0
    if isinstance(code, int):  # also `sys.exit(not result.wasSuccessful())`
        return int(code)
    sys.stderr.write("%s\n" % (code,))
    return 1


def parse_command_line(argv):
    """(out, timeout, ids file, what) from `OUT.json [--timeout S] [--ids FILE] -- WHAT...`."""
    if "--" in argv:
        split = argv.index("--")
        head, what = argv[:split], argv[split + 1:]
    else:
        head, what = argv[:1], argv[1:]
    if not head:
        raise SystemExit("usage: r2e_unittest_report.py OUT.json [--timeout S] [--ids FILE] -- WHAT...")
    out, timeout, ids = head[0], os.environ.get("R2E_TEST_TIMEOUT"), os.environ.get("R2E_TEST_IDS")
    rest = head[1:]
    while rest:
        flag = rest.pop(0)
        if flag == "--timeout" and rest:
            timeout = rest.pop(0)
        elif flag == "--ids" and rest:
            ids = rest.pop(0)
        else:
            raise SystemExit("r2e_unittest_report.py: unknown option %r" % flag)
    try:
        seconds = float(timeout or 0)
    except ValueError:
        raise SystemExit("r2e_unittest_report.py: --timeout needs seconds, got %r" % timeout)
    return out, max(seconds, 0.0), ids, what


def main(argv=None):
    out, timeout, ids_file, what = parse_command_line(list(sys.argv[1:] if argv is None else argv))
    root = os.getcwd()
    if root not in sys.path:
        sys.path.insert(0, root)  # as `python -m` puts the working folder first
    wanted = read_ids(ids_file)
    verbosity = 2 if any(a in ("-v", "--verbose") for a in what) else 1
    main_module = what[1] if len(what) > 1 and what[0] == "-m" and what[1] != "unittest" else None
    writer = ReportWriter(out, "unittest")
    recorder = Recorder(writer, root, timeout, main_module=main_module)
    install_recorder(recorder)
    writer.install_sigterm()
    writer.flush(force=True)
    if what[:2] == ["-m", "unittest"]:
        code = run_unittest_cli(what[2:], recorder, wanted, verbosity)
    elif what[:1] == ["-m"] and len(what) > 1:
        code = run_as_main("module", what[1], what[2:], recorder, wanted, verbosity)
    elif what and what[0].endswith(".py") and os.path.isfile(what[0]):
        code = run_as_main("script", what[0], what[1:], recorder, wanted, verbosity)
    else:
        code = run_unittest_cli(what, recorder, wanted, verbosity)
    writer.finish(code)
    return code


if __name__ == "__main__":
    sys.exit(main())
