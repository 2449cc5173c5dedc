"""Where a simulation's tasks run: in this process (default), on a local Dask cluster, or on a
running one (``--scheduler inprocess | local:K | tcp://host:port``).

A task is a block of the fixed-size chunks of :mod:`sim.core` (chunk k always draws from its own
generator ``Stream(run seed, task name).generator(k)``), so what a task returns does not depend
on where, when or in which order it runs. Callers combine task results in task-key order, never
in completion order: a run gives bit-identical numbers in-process, on ``local:1``, on
``local:2`` and with its tasks run in any order (tests/sim/test_scheduler.py asserts it).

Dask (``pip install 'initbounds[dask]'``) is imported only when a cluster is asked for. When a
worker dies, the Dask scheduler reruns the tasks it held on another worker (up to its
``allowed-failures``); since a task's result is a function of its key, the final result is the
same. Task functions must be importable module-level functions (workers unpickle them by name).

>>> with connect("inprocess") as ex:
...     ex.map([Task("a", pow, (2, 10)), Task("b", pow, (3, 2))])
{'a': 1024, 'b': 9}
"""
from __future__ import annotations

import contextlib
import logging
import os
import time
import uuid
import warnings
from dataclasses import dataclass
from typing import Callable, Iterator, Optional, Sequence

from ..bounds.errors import Constraint, DomainError, InitBoundsError

__all__ = ["SchedulerSpec", "SCHEDULER", "Scheduler", "parse_scheduler", "Task", "Executor", "connect",
           "TASK_SECONDS", "DASK_EXTRA"]

#: Target seconds of work per task (by the samplers' cost model). Dask's scheduler handles a few
#: thousand tasks per second in practice (about 1 ms of scheduler time per task), so 1,000 workers
#: finishing a 1 s task each every second stay under its rate; below ~0.1 s a task's overhead shows
#: (benchmarks/bench.py `dask` measures both).
TASK_SECONDS = 1.0

#: What to install for a cluster.
DASK_EXTRA = "pip install 'initbounds[dask]'"

_MAX_LOCAL = 256
#: The forms of a spec, as every message states them.
_FORMS = f"'inprocess', 'local:K' (1 ≤ K ≤ {_MAX_LOCAL}) or 'tcp://host:port'"


@dataclass(frozen=True)
class Scheduler:
    """A parsed ``--scheduler``: ``kind`` "inprocess", "local" (``workers`` processes) or "tcp"
    (``address`` of a running scheduler)."""

    kind: str
    workers: Optional[int] = None
    address: Optional[str] = None

    def __str__(self) -> str:
        return {"inprocess": "inprocess", "local": f"local:{self.workers}", "tcp": self.address}[self.kind]


def parse_scheduler(spec) -> Scheduler:
    """Read a scheduler spec: ``"inprocess"`` (or None), ``"local:K"`` (1 ≤ K ≤ 256 worker
    processes on this machine) or ``"tcp://host:port"`` (a running ``dask scheduler``).

    >>> parse_scheduler("local:2")
    Scheduler(kind='local', workers=2, address=None)
    >>> str(parse_scheduler("tcp://127.0.0.1:8786"))
    'tcp://127.0.0.1:8786'
    """
    if spec is None or isinstance(spec, Scheduler):
        return spec or Scheduler("inprocess")
    text = str(spec).strip()
    must = f"be {_FORMS}"
    if text == "inprocess":
        return Scheduler("inprocess")
    if text.startswith("local:"):
        k = text[6:]
        if k.isdigit() and 1 <= int(k) <= _MAX_LOCAL:
            return Scheduler("local", workers=int(k))
        raise DomainError.must("scheduler", must, repr(spec))
    if text.startswith("tcp://"):
        host, _, port = text[6:].rpartition(":")
        if host and port.isdigit() and 1 <= int(port) <= 65535:
            return Scheduler("tcp", address=text)
    raise DomainError.must("scheduler", must, repr(spec))


class SchedulerSpec(Constraint):
    """The ``--scheduler`` option (:func:`parse_scheduler`); validates to the spec's text."""

    metavar = "SPEC"

    def describe(self) -> str:
        return _FORMS

    def validate(self, name: str, value, *, item: str = ""):
        try:
            return str(parse_scheduler(value))
        except DomainError:                  # the same message, under the caller's name for the option
            raise DomainError.must(name, f"be {_FORMS}", repr(value), item=item) from None

    def invalid_example(self):
        return "local:0"


#: The one constraint of every command's --scheduler.
SCHEDULER = SchedulerSpec()


@dataclass(frozen=True)
class Task:
    """``fn(*args)`` under the stable name ``key`` (unique within one :meth:`Executor.map`)."""

    key: str
    fn: Callable
    args: tuple = ()


class Executor:
    """Runs :class:`Task` lists: in this process when ``client`` is None, else through a Dask
    ``distributed.Client``. Use :func:`connect` to make one."""

    def __init__(self, scheduler: Scheduler, client=None, order: Optional[Callable] = None):
        self.scheduler, self.client = scheduler, client
        self._order = order
        self.tasks_run = 0          # tasks finished, over every map() of this executor
        self.tasks_submitted = 0
        #: called as ``listener(tasks_run, tasks_submitted)`` when either changes (a progress bar)
        self.listener: Optional[Callable[[int, int], None]] = None

    @property
    def distributed(self) -> bool:
        return self.client is not None

    @property
    def dashboard(self) -> Optional[str]:
        """The Dask dashboard's address (None in-process or when the cluster has none)."""
        if self.client is None:
            return None
        try:
            return self.client.dashboard_link
        except Exception:   # pragma: no cover - a scheduler without a dashboard
            return None

    @property
    def workers(self) -> int:
        """Worker processes now connected (1 in-process)."""
        if self.client is None:
            return 1
        return len(self.client.scheduler_info().get("workers", {}))

    def map(self, tasks: Sequence[Task], *, on_result: Optional[Callable] = None,
            progress: Optional[Callable[[int, int], None]] = None) -> dict:
        """Run every task; return {key: result}. ``on_result(task, result)`` is called as each
        finishes (completion order: write results as they come), ``progress(done, total)``
        before the first and after each. A task that raises stops the run with its error."""
        tasks = list(tasks)
        keys = [t.key for t in tasks]
        if len(set(keys)) != len(keys):
            raise DomainError("task keys must be unique within one run")
        total, out = len(tasks), {}
        self.tasks_submitted += total
        if self.listener:
            self.listener(self.tasks_run, self.tasks_submitted)
        if progress:
            progress(0, total)
        for task, result in self._results(tasks):
            out[task.key] = result
            self.tasks_run += 1
            if self.listener:
                self.listener(self.tasks_run, self.tasks_submitted)
            if on_result:
                on_result(task, result)
            if progress:
                progress(len(out), total)
        return out

    def _results(self, tasks) -> Iterator[tuple]:
        if self.client is None:
            order = self._order(tasks) if self._order else tasks
            for t in order:
                yield t, t.fn(*t.args)
            return
        from distributed import as_completed

        run = uuid.uuid4().hex[:8]
        futures, groups = {}, {}
        for t in tasks:                      # one client.map per function and arity: one message, not one per task
            groups.setdefault((t.fn, len(t.args)), []).append(t)
        for (fn, arity), ts in groups.items():
            keys = [f"initbounds-{run}-{t.key}" for t in ts]
            columns = [[t.args[i] for t in ts] for i in range(arity)]
            fs = self.client.map(fn, *columns, key=keys, pure=False, retries=0) if arity else \
                [self.client.submit(fn, key=k, pure=False, retries=0) for k in keys]
            for f, t in zip(fs, ts):
                futures[f.key] = (f, t)
        try:
            # results come back in batches as they complete (one round trip per batch, not per task)
            for f, result in as_completed([f for f, _ in futures.values()], with_results=True):
                yield futures[f.key][1], result
        finally:
            for f, _ in futures.values():
                f.release()


@contextlib.contextmanager
def _quiet():
    """Dask's own log lines and warnings (worker restarts, ports, closing) stay off the terminal."""
    loggers = [logging.getLogger(n) for n in ("distributed", "tornado", "asyncio", "bokeh")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


#: What Dask's nanny sets in a worker's environment before starting it, less its
#: ``MALLOC_TRIM_THRESHOLD_=65536``: with it glibc hands freed memory back to the system at once and
#: the samplers, which allocate and free large tensors in every layer, ran 40% slower (measured:
#: one Gram task 0.80 s in a process, 1.15 s on a worker and 1.13 s in a process with that variable).
WORKER_ENVIRON = {"OMP_NUM_THREADS": 1, "MKL_NUM_THREADS": 1, "OPENBLAS_NUM_THREADS": 1}


def dask_config_for_workers():
    """A ``dask.config.set`` context giving the nanny :data:`WORKER_ENVIRON` for new workers."""
    import dask

    return dask.config.set({"distributed.nanny.pre-spawn-environ": dict(WORKER_ENVIRON)})


def _import_distributed():
    try:
        import distributed
    except ImportError:
        raise InitBoundsError(f"--scheduler local:K and tcp://… need Dask: {DASK_EXTRA}") from None
    return distributed


@contextlib.contextmanager
def connect(spec="inprocess", *, order: Optional[Callable] = None, timeout: float = 10.0) -> Iterator[Executor]:
    """An :class:`Executor` for ``spec`` (see :func:`parse_scheduler`), closed on exit.

    ``local:K`` starts a ``LocalCluster`` of K worker processes, one thread each (torch on one
    thread per worker: ``INITBOUNDS_THREADS=1``), with its dashboard on a free port of 127.0.0.1;
    ``tcp://host:port`` connects to a running scheduler within ``timeout`` seconds (a one-line
    :class:`InitBoundsError` otherwise). ``order`` reorders an in-process run's tasks (tests use
    it to show that the order does not matter).
    """
    sched = parse_scheduler(spec)
    if sched.kind == "inprocess":
        yield Executor(sched, None, order)
        return
    distributed = _import_distributed()
    with _quiet(), contextlib.ExitStack() as stack:
        if sched.kind == "local":
            stack.enter_context(dask_config_for_workers())
            cluster = stack.enter_context(distributed.LocalCluster(
                n_workers=sched.workers, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0",
                silence_logs=logging.CRITICAL, env={"INITBOUNDS_THREADS": "1"}))
            client = stack.enter_context(distributed.Client(cluster))
        else:
            try:
                client = stack.enter_context(distributed.Client(sched.address, timeout=f"{timeout}s"))
            except (OSError, TimeoutError) as e:
                raise InitBoundsError(f"--scheduler {sched.address}: no Dask scheduler answered within "
                                      f"{timeout:g} s ({type(e).__name__})") from None
        if sched.kind == "local":
            distributed.Client.wait_for_workers(client, sched.workers, timeout=60)
        client.run(_preload)              # torch and the samplers imported once per worker, before the first task
        yield Executor(sched, client)


def _preload():
    """Import what every task needs (on a worker: ~1 s of torch import, paid at start-up instead of
    inside the first task)."""
    from . import engine  # noqa: F401


def wait_for_workers(executor: Executor, n: int, timeout: float = 60.0) -> None:
    """Block until ``n`` workers are connected (tests and benchmarks start clusters this way)."""
    t0 = time.monotonic()
    while executor.workers < n:
        if time.monotonic() - t0 > timeout:
            raise InitBoundsError(f"only {executor.workers} of {n} Dask workers connected within {timeout:g} s")
        time.sleep(0.05)


def worker_pids(executor: Executor) -> dict:
    """{worker address: process id} of a Dask cluster's workers (tests kill one by its id)."""
    if executor.client is None:
        return {}
    return executor.client.run(os.getpid)
