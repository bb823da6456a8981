"""R2E's pytest plugin: the per-test map (pytest node id -> status) and a per-test timeout.

Loaded with `-p r2e_pytest_report` (this folder on PYTHONPATH). Environment:
  R2E_TEST_REPORT   where to write the JSON report (nothing is written without it)
  R2E_TEST_TIMEOUT  seconds one test (setup + call + teardown) may take; a test over it is FAILED
                    with reason "timeout" and the session goes on (SIGALRM, as pytest-timeout's
                    signal method, so nothing needs installing)
  R2E_TEST_IDS      a file of node ids, one a line: run only those (the eval script's subset)
  R2E_KEEP_COLLECTING=0  keep pytest's default of stopping at a collection error
"""

import os
import signal
import sys
import threading

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:  # its helper sits beside it, also when imported as a package module
    sys.path.append(_HERE)

from r2e_report_io import ERROR, FAILED, PASSED, SKIPPED, XFAIL, ReportWriter, read_ids  # noqa: E402

_WRITER_KEY = "_r2e_report_writer"


def _timeout_seconds():
    try:
        value = float(os.environ.get("R2E_TEST_TIMEOUT") or 0)
    except ValueError:
        return 0.0
    return value if value > 0 else 0.0


@pytest.hookimpl(trylast=True)  # after pytest-timeout has read its settings, when the project has it
def pytest_configure(config):
    path = os.environ.get("R2E_TEST_REPORT")
    if os.environ.get("R2E_KEEP_COLLECTING", "1") != "0":
        # one broken test file must cost that file, not every other test of the suite
        config.option.continue_on_collection_errors = True
    # xdist workers send their reports to the controller, which alone writes the file
    if path and not hasattr(config, "workerinput"):
        plugin = _Recorder(ReportWriter(path, "pytest"))
        config.pluginmanager.register(plugin, "r2e_recorder")
        plugin.writer.install_sigterm()
        plugin.writer.flush(force=True)
    seconds = _timeout_seconds()
    if not seconds or not hasattr(signal, "SIGALRM") or threading.current_thread() is not threading.main_thread():
        return
    if config.pluginmanager.hasplugin("timeout"):
        if _pytest_timeout_session_budget(config):
            return  # the project's own pytest-timeout budget applies to every test: no second alarm
        config.pluginmanager.register(_AlarmTimeout(seconds, defer_to_marker=True), "r2e_timeout")
    else:
        config.pluginmanager.register(_AlarmTimeout(seconds), "r2e_timeout")


def _pytest_timeout_session_budget(config):
    """pytest-timeout's session-wide timeout (option, PYTEST_TIMEOUT or ini), 0 when it has none."""
    value = getattr(config, "_env_timeout", None)
    value = getattr(value, "timeout", value)  # older releases keep a Settings tuple
    try:
        return float(value or 0)
    except (TypeError, ValueError):
        return 0.0


def _wanted():
    return read_ids(os.environ.get("R2E_TEST_IDS"))


def _subset_files(config):
    """Files and folders (relative to rootdir) that hold a requested id, cached on the config."""
    cached = getattr(config, "_r2e_subset_files", None)
    if cached is None:
        cached = set()
        for test_id in _wanted() or ():
            parts = test_id.split("::")[0].split("/")
            for i in range(1, len(parts) + 1):
                cached.add("/".join(parts[:i]))
        config._r2e_subset_files = cached
    return cached


def _ignore(path, config):
    # a subset run imports only the files of the requested ids, as `pytest ID...` would
    if not os.environ.get("R2E_TEST_IDS"):
        return None
    rel = os.path.relpath(str(path), str(config.rootdir)).replace(os.sep, "/")
    if rel == "." or rel.startswith("..") or rel in _subset_files(config):
        return None
    return True


if int(pytest.__version__.split(".")[0]) >= 7:
    def pytest_ignore_collect(collection_path, config):
        return _ignore(collection_path, config)
else:  # older pytest passes a py.path
    def pytest_ignore_collect(path, config):
        return _ignore(path, config)


def pytest_collection_modifyitems(session, config, items):
    wanted = _wanted()
    if wanted is None:
        return
    keep = [item for item in items if item.nodeid in wanted]
    dropped = [item for item in items if item.nodeid not in wanted]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    items[:] = keep


class _Recorder(object):
    def __init__(self, writer):
        self.writer = writer

    def pytest_runtest_logstart(self, nodeid, location):
        self.writer.running = nodeid

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report):
        writer = self.writer
        nodeid = report.nodeid
        if report.outcome == "rerun":  # pytest-rerunfailures: the attempt that follows decides
            return
        timed_out = _is_timeout(report)
        status = writer.tests.get(nodeid)
        if report.when == "setup":
            writer.tests.pop(nodeid, None)  # a fresh attempt (reruns) starts clean
            if report.failed:
                writer.record(nodeid, FAILED if timed_out else ERROR, "timeout" if timed_out else None)
            elif report.skipped:
                writer.record(nodeid, XFAIL if hasattr(report, "wasxfail") else SKIPPED)
        elif report.when == "call":
            if report.failed:  # also a strict XPASS
                writer.record(nodeid, FAILED, "timeout" if timed_out else writer.reasons.get(nodeid))
            elif status == FAILED:
                pass  # a failed subtest already failed the test
            elif report.skipped:
                writer.record(nodeid, XFAIL if hasattr(report, "wasxfail") else SKIPPED)
            else:  # passed, or a non-strict XPASS
                writer.record(nodeid, PASSED)
        elif report.when == "teardown":
            if report.failed and status not in (FAILED, ERROR):
                writer.record(nodeid, FAILED if timed_out else ERROR, "timeout" if timed_out else None)
            elif report.failed and timed_out:
                writer.record(nodeid, FAILED, "timeout")
            writer.running = None
            writer.flush()

    def pytest_collectreport(self, report):
        if report.failed:
            nodeid = report.nodeid or str(getattr(report, "fspath", "") or "<collection>")
            self.writer.record(nodeid, ERROR, "collection")
            self.writer.flush()

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session, exitstatus):
        self.writer.finish(int(exitstatus))


def _is_timeout(report):
    if getattr(report, "r2e_timeout", False):
        return True
    text = getattr(report, "longreprtext", "") or ""
    return "(R2E_TEST_TIMEOUT)" in text or "Failed: Timeout >" in text  # ours, or pytest-timeout's wording


class _R2ETimeout(pytest.fail.Exception):
    """Raised inside the hung test: BaseException, so a test's `except Exception` cannot swallow it."""


class _AlarmTimeout(object):
    def __init__(self, seconds, defer_to_marker=False):
        self.seconds = seconds
        self.defer_to_marker = defer_to_marker  # pytest-timeout arms its own alarm for marked tests
        self.fired = set()

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item, nextitem):
        seconds = self._seconds_for(item)
        if not seconds:
            yield
            return

        def on_alarm(signum, frame):
            __tracebackhide__ = True
            self.fired.add(item.nodeid)
            raise _R2ETimeout("Timeout >%ss (R2E_TEST_TIMEOUT)" % seconds, pytrace=False)

        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous if previous is not None else signal.SIG_DFL)

    def _seconds_for(self, item):
        marker = item.get_closest_marker("timeout")  # the project's own per-test budget wins
        if marker is not None and self.defer_to_marker:
            return None
        if marker is not None and marker.args:
            try:
                return float(marker.args[0]) or None
            except (TypeError, ValueError):
                pass
        return self.seconds

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        if item.nodeid in self.fired and call.excinfo is not None and call.excinfo.errisinstance(_R2ETimeout):
            outcome.get_result().r2e_timeout = True
