"""Where a batch of work runs: this machine's pool (`local`) or a Ray cluster (`ray`).

Both take the same call, `executor.map(fn, items, resources=..., on_done=...)`, and return
([(item, result)], [Failure]): failures are data, Ctrl-C cancels what is pending and re-raises.
A task learns where it runs and which attempt it is through `placement()`. Ray is imported only
when the `ray` executor is chosen.
"""

from __future__ import annotations

import contextvars
import os
import socket
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Protocol, Sequence

from r2e.errors import R2EUsageError
from r2e.pool import Failure, run_pool

EXECUTORS = ("local", "ray")
DEFAULT_MAX_RETRIES = 3  # Ray's own default for tasks
CANCEL_GRACE = 5.0  # seconds a cancelled task gets to clean up (kill its commands, remove its containers)
HEAD_RESOURCE = "node:__internal_head__"  # Ray gives the head node this resource
RAY_MISSING = "--executor ray needs Ray: pip install 'r2e[ray]'"

OnDone = Callable[[Any, Any, BaseException | None], None]


@dataclass(frozen=True)
class Resources:
    """What one task needs; Ray never places more tasks on a node than its CPUs and memory hold."""

    cpus: float = 1.0
    memory: int | None = None  # bytes


@dataclass(frozen=True)
class Placement:
    """Where a task runs: the node's address and id, and which attempt this is (1 unless retried)."""

    node_ip: str
    node_id: str
    attempt: int = 1
    nodes_tried: tuple[str, ...] = ()


_PLACEMENT: contextvars.ContextVar[Placement | None] = contextvars.ContextVar("r2e_placement", default=None)


def placement() -> Placement:
    """The running task's placement (outside any executor: this machine, first attempt)."""
    current = _PLACEMENT.get()
    if current is not None:
        return current
    return Placement(_local_ip(), "local", 1)


def _local_ip() -> str:
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"


class Executor(Protocol):
    name: str

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any], *, resources: Resources | None = None,
            on_done: OnDone | None = None, prepare: Callable[[Any], Any] | None = None,
            hint: Callable[[Any], str | None] | None = None) -> tuple[list[tuple[Any, Any]], list[Failure]]:
        """Run fn(prepare(item)) for every item. `prepare` makes a task's payload just before it is
        submitted (so a large batch never holds every payload at once); `hint(item)` names a node the
        task should preferably run on (its image is there)."""

    def on_each_node(self, fn: Callable[..., Any], *args: Any) -> dict[str, Any]:
        """Run fn(*args) once on every live node; return {node label: result or the error's message}."""

    def connect(self) -> None:
        """Reach the workers now (a bad address is one line before any work starts)."""

    def close(self) -> None: ...


class LocalExecutor:
    """Today's pool: threads on this machine (processes with `processes=True`)."""

    name = "local"

    def __init__(self, workers: int = 1, *, processes: bool = False):
        self.workers, self.processes = workers, processes

    def map(self, fn, items, *, resources=None, on_done=None, prepare=None, hint=None):
        call = fn if prepare is None else (lambda item: fn(prepare(item)))
        return run_pool(call, items, self.workers, processes=self.processes and prepare is None, on_done=on_done)

    def on_each_node(self, fn, *args):
        try:
            return {"local": fn(*args)}
        except Exception as exc:
            return {"local": f"{type(exc).__name__}: {exc}"}

    def connect(self) -> None:
        pass

    def close(self) -> None:
        pass


def make_executor(name: str, *, workers: int = 1, address: str | None = None,
                  max_retries: int = DEFAULT_MAX_RETRIES) -> Executor:
    if name == "local":
        return LocalExecutor(workers)
    if name == "ray":
        return RayExecutor(address, max_retries=max_retries)
    raise R2EUsageError(f"unknown executor '{name}': use {' or '.join(EXECUTORS)}")


def _import_ray():
    try:
        import ray
    except ImportError:
        raise R2EUsageError(RAY_MISSING) from None
    return ray


# ---------------------------------------------------------------------------------------------- ray
def _ray_task(fn, payload, key: str, ledger):
    """Runs on a node: note the attempt with the head's ledger, then run fn with its placement known."""
    import ray

    ctx = ray.get_runtime_context()
    node_id = ctx.get_node_id()
    node_ip = ray.util.get_node_ip_address()
    attempt, tried = 1, [node_label(node_ip, node_id)]
    if ledger is not None:
        try:
            attempt, tried = ray.get(ledger.begin.remote(key, node_ip, node_id), timeout=60)
        except Exception:  # the count is a record, never a reason to fail the work
            pass
    token = _PLACEMENT.set(Placement(node_ip, node_id, attempt, tuple(tried)))
    try:
        return fn(payload)
    finally:
        _PLACEMENT.reset(token)


class _Ledger:
    """Lives on the head's node (it survives any worker node): counts the attempts of each task."""

    def __init__(self):
        self.tries: dict[str, list[str]] = {}

    def begin(self, key: str, node_ip: str, node_id: str) -> tuple[int, list[str]]:
        tried = self.tries.setdefault(key, [])
        tried.append(node_label(node_ip, node_id))
        return len(tried), list(tried)


def node_label(node_ip: str, node_id: str) -> str:
    """A node's name in summaries: its address, with a short id so that nodes sharing one address
    (several raylets on one machine) stay apart."""
    return f"{node_ip}/{node_id[:8]}" if node_id and node_id != "local" else node_ip


class RayExecutor:
    """Tasks on a Ray cluster: `address` HOST:PORT, `auto` (a cluster started on this machine with
    `ray start`), or None for $RAY_ADDRESS, else auto."""

    name = "ray"

    def __init__(self, address: str | None = None, *, max_retries: int = DEFAULT_MAX_RETRIES,
                 max_in_flight: int | None = None):
        self.ray = _import_ray()
        self.address = address or os.environ.get("RAY_ADDRESS") or "auto"
        self.max_retries = max_retries
        self.max_in_flight = max_in_flight
        self._connected_here = False
        self._remote = None
        self._ledger = None

    # ------------------------------------------------------------------ connection
    def connect(self) -> None:
        ray = self.ray
        if ray.is_initialized():
            return
        reason = unreachable(self.address)
        if reason:  # Ray itself would retry for minutes before saying so
            raise R2EUsageError(f"no Ray cluster at '{self.address}' ({reason}): start one with `ray start --head`, "
                                "or pass --ray-address HOST:PORT")
        try:
            ray.init(address=self.address, log_to_driver=False, logging_level="ERROR",
                     configure_logging=True)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise R2EUsageError(f"no Ray cluster at '{self.address}' ({first[:200]}): start one with "
                                "`ray start --head`, or pass --ray-address HOST:PORT") from None
        self._connected_here = True

    def _setup(self) -> None:
        self.connect()
        if self._remote is None:
            ray = self.ray

            self._remote = ray.remote(_ray_task)
            # on the head node (where the GCS is): it outlives any worker node
            self._ledger = ray.remote(_Ledger).options(num_cpus=0, resources={HEAD_RESOURCE: 0.001}).remote()

    def nodes(self) -> list[dict]:
        self.connect()
        return [n for n in self.ray.nodes() if n.get("Alive")]

    def cluster_cpus(self) -> int:
        self.connect()
        return int(self.ray.cluster_resources().get("CPU", 1))

    def close(self) -> None:
        if self._connected_here and self.ray.is_initialized():
            self.ray.shutdown()
        self._connected_here, self._remote, self._ledger = False, None, None

    # ------------------------------------------------------------------ map
    def _options(self, resources: Resources | None, node: str | None) -> dict:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        res = resources or Resources()
        opts: dict[str, Any] = {"num_cpus": res.cpus, "max_retries": self.max_retries, "retry_exceptions": False}
        if res.memory:
            opts["memory"] = int(res.memory)
        if node:  # soft: a node that is gone or full does not hold the task back
            try:
                opts["scheduling_strategy"] = NodeAffinitySchedulingStrategy(node, soft=True)
            except ValueError:  # not a node id (an old or edited record): no preference
                pass
        return opts

    def map(self, fn, items, *, resources=None, on_done=None, prepare=None, hint=None):
        self._setup()
        ray = self.ray
        items: Sequence[Any] = list(items)
        ok: list[tuple[Any, Any]] = []
        failed: list[Failure] = []
        window = self.max_in_flight or max(4, 2 * self.cluster_cpus())
        run = uuid.uuid4().hex[:8]
        pending = list(enumerate(items))
        pending.reverse()  # pop() from the end keeps the items' order
        in_flight: dict[Any, tuple[int, Any]] = {}

        def record(item, result, error):
            (ok.append((item, result)) if error is None else failed.append(Failure(item, error)))
            if on_done is not None:
                on_done(item, result, error)

        try:
            while pending or in_flight:
                while pending and len(in_flight) < window:
                    index, item = pending.pop()
                    try:
                        payload = prepare(item) if prepare is not None else item
                    except Exception as exc:  # an input that cannot be shipped fails alone
                        record(item, None, exc)
                        continue
                    node = hint(item) if hint is not None else None
                    ref = self._remote.options(**self._options(resources, node)).remote(
                        fn, payload, f"{run}-{index}", self._ledger)
                    in_flight[ref] = (index, item)
                if not in_flight:
                    continue
                done, _ = ray.wait(list(in_flight), num_returns=1, timeout=1.0)
                for ref in done:
                    _, item = in_flight.pop(ref)
                    try:
                        result = ray.get(ref)
                    except Exception as exc:
                        record(item, None, _cause(ray, exc))
                    else:
                        record(item, result, None)
        except KeyboardInterrupt:
            self.cancel(list(in_flight))
            raise
        return ok, failed

    def cancel(self, refs: list) -> None:
        """Ask the tasks to stop (they clean up), then kill those still running after a grace period."""
        ray = self.ray
        for ref in refs:
            try:
                ray.cancel(ref, force=False)
            except Exception:
                pass
        deadline = time.monotonic() + CANCEL_GRACE
        left = list(refs)
        while left and time.monotonic() < deadline:
            try:
                _, left = ray.wait(left, num_returns=len(left), timeout=0.5)
            except Exception:
                break
        for ref in left:
            try:
                ray.cancel(ref, force=True)
            except Exception:
                pass

    def on_each_node(self, fn, *args):
        self.connect()
        ray = self.ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        remote = ray.remote(fn)
        refs = {}
        for node in self.nodes():
            strategy = NodeAffinitySchedulingStrategy(node["NodeID"], soft=False)
            refs[node_label(node["NodeManagerAddress"], node["NodeID"])] = remote.options(
                num_cpus=0, max_retries=0, scheduling_strategy=strategy).remote(*args)
        out = {}
        for label, ref in refs.items():
            try:
                out[label] = ray.get(ref, timeout=120)
            except Exception as exc:
                out[label] = f"{type(exc).__name__}: {str(exc)[:200]}"
        return out


def unreachable(address: str, timeout: float = 5.0) -> str | None:
    """Why HOST:PORT takes no connections (None when it does, or when the address is not HOST:PORT)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or "://" in address:
        return None
    try:
        socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=timeout).close()
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    return None


def _cause(ray, exc: BaseException) -> BaseException:
    """The task's own exception when it raised one (Ray wraps it), else Ray's (node lost, cancelled)."""
    if isinstance(exc, ray.exceptions.RayTaskError):
        cause = getattr(exc, "cause", None)
        if isinstance(cause, BaseException):
            return cause
    return exc
