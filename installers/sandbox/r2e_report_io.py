"""The per-test report file both in-environment runners write: JSON, rewritten atomically.

Written often (throttled) and on SIGTERM, so a session killed by the whole-suite budget still leaves
every result it had. Statuses: PASSED FAILED ERROR SKIPPED XFAIL.
"""

import json
import os
import signal
import threading
import time

PASSED, FAILED, ERROR, SKIPPED, XFAIL = "PASSED", "FAILED", "ERROR", "SKIPPED", "XFAIL"
WRITE_INTERVAL = 0.5  # seconds between rewrites: a 30,000-test suite must not rewrite the file per test


class ReportWriter(object):
    def __init__(self, path, runner):
        self.path = path
        self.runner = runner
        self.tests = {}
        self.reasons = {}
        self.aliases = {}
        self.running = None  # the test in progress, charged if the session is killed
        self.complete = False
        self.exit_code = None
        self._last = 0.0
        self._previous_term = None

    def record(self, test_id, status, reason=None):
        self.tests[test_id] = status
        if reason:
            self.reasons[test_id] = reason
        else:
            self.reasons.pop(test_id, None)

    def payload(self):
        return {"runner": self.runner, "complete": self.complete, "exit_code": self.exit_code,
                "tests": self.tests, "reasons": self.reasons, "aliases": self.aliases}

    def flush(self, force=False):
        now = time.monotonic()
        if not force and now - self._last < WRITE_INTERVAL:
            return
        self._last = now
        directory = os.path.dirname(os.path.abspath(self.path))
        tmp = os.path.join(directory, ".%s.%d.tmp" % (os.path.basename(self.path), os.getpid()))
        try:
            if not os.path.isdir(directory):
                os.makedirs(directory)
            with open(tmp, "w") as fh:
                json.dump(self.payload(), fh, indent=0, sort_keys=True)
            os.replace(tmp, self.path)
        except OSError:
            pass  # a report that cannot be written must not break the maintainers' test run

    def finish(self, exit_code):
        self.complete = True
        self.exit_code = exit_code
        self.running = None
        self.flush(force=True)

    def install_sigterm(self):
        """On SIGTERM (the suite budget ran out): charge the running test, write, then die as asked."""
        if threading.current_thread() is not threading.main_thread():
            return
        try:
            self._previous_term = signal.signal(signal.SIGTERM, self._on_term)
        except (ValueError, OSError):
            pass

    def _on_term(self, signum, frame):
        if self.running and self.running not in self.tests:
            self.record(self.running, FAILED, "killed")
        self.flush(force=True)
        previous = self._previous_term
        signal.signal(signal.SIGTERM, previous if callable(previous) else signal.SIG_DFL)
        if callable(previous):
            previous(signum, frame)
        else:
            os.kill(os.getpid(), signal.SIGTERM)


def read_ids(path):
    """The subset to run: one test id a line (as the eval script writes its arguments)."""
    if not path:
        return None
    with open(path) as fh:
        ids = [line.rstrip("\n") for line in fh]
    return set(i for i in ids if i.strip())
