"""Issue 16: the same answer everywhere. Tasks (blocks of the fixed chunks) give bit-identical
results in-process, on a LocalCluster of 1 or 2 worker processes, on a cluster of subprocesses
reached by tcp://, with the tasks in any order, after a worker is killed mid-run, and after an
interrupted sweep is resumed (corrupt task files are recomputed, never merged)."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from initbounds.bounds.errors import DomainError, InitBoundsError
from initbounds.sim import sweep as S
from initbounds.sim.certify import certify, load_dataset
from initbounds.sim.core import Stream
from initbounds.sim.engine import chunk_blocks, sample_networks, sample_networks_on
from initbounds.sim.scheduler import (SCHEDULER, Scheduler, Task, connect, parse_scheduler, wait_for_workers,
                                      worker_pids)
from initbounds.sim.validate import run_claims

distributed = pytest.importorskip("distributed")

#: A small sweep with several tasks per cell (the task size is lowered to one chunk per task).
DESIGN = dict(widths=(16, 48), depths=(2, 3), samples=4, correlation=0.3, delta=0.1, eps=0.4, trials=3000, seed=5)


@pytest.fixture
def small_tasks(monkeypatch):
    monkeypatch.setattr(S, "TASK_SECONDS", 1e-9)


def _csv(out: Path) -> bytes:
    return (out / "sweep.csv").read_bytes()


# --- the spec ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, want", [("inprocess", Scheduler("inprocess")), ("local:1", Scheduler("local", 1)),
                                        ("local:256", Scheduler("local", 256)),
                                        ("tcp://10.0.0.2:8786", Scheduler("tcp", address="tcp://10.0.0.2:8786"))])
def test_scheduler_specs(text, want):
    assert parse_scheduler(text) == want and str(want) == text and SCHEDULER.validate("scheduler", text) == text


@pytest.mark.parametrize("text", ["local:0", "local:257", "local:", "local:x", "tcp://host", "tcp://:1", "tcp://h:0",
                                  "tcp://h:65536", "dask", "", "inproc"])
def test_bad_scheduler_specs_name_the_option_and_its_forms(text):
    with pytest.raises(DomainError, match=r"^scheduler must be 'inprocess', 'local:K' \(1 ≤ K ≤ 256\) or "
                                          r"'tcp://host:port'; got "):
        SCHEDULER.validate("scheduler", text)


@given(st.integers(1, 256), st.integers(1, 65535), st.from_regex(r"[a-z][a-z0-9.-]{0,20}", fullmatch=True))
def test_specs_round_trip(k, port, host):
    for text in (f"local:{k}", f"tcp://{host}:{port}"):
        assert str(parse_scheduler(text)) == text


@given(st.integers(1, 400), st.integers(1, 1000), st.floats(1e-7, 1e-2), st.floats(1e-3, 10.0))
def test_chunk_blocks_cover_every_chunk_once_in_order(n_chunks, chunk, per_net, task_seconds):
    blocks = chunk_blocks(n_chunks, chunk, per_net, task_seconds)
    assert [c for b in blocks for c in b] == list(range(n_chunks))
    assert all(len(b) == len(blocks[0]) for b in blocks[:-1])


def test_inprocess_map_runs_in_the_given_order_and_returns_by_key():
    seen = []
    with connect("inprocess", order=lambda ts: ts[::-1]) as ex:
        out = ex.map([Task(k, seen.append, (k,)) for k in "abc"], progress=lambda d, t: None)
    assert seen == ["c", "b", "a"] and set(out) == set("abc") and ex.tasks_run == 3 and not ex.distributed
    with pytest.raises(DomainError, match="unique"):
        ex.map([Task("a", abs, (1,)), Task("a", abs, (2,))])


def test_unreachable_scheduler_is_one_line():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]          # nothing listens there once closed
    with pytest.raises(InitBoundsError, match=rf"^--scheduler tcp://127.0.0.1:{port}: no Dask scheduler answered "
                                              r"within 1 s"):
        with connect(f"tcp://127.0.0.1:{port}", timeout=1.0):
            pass


# --- identity ------------------------------------------------------------------------------------------
def test_sampled_networks_are_the_same_as_tasks_in_any_order():
    x = torch.randn(6, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    kw = dict(fan="in", stream=Stream(4, "tasks"), last_gram=True)
    ref = sample_networks([24, 24, 24], x, 5000, **kw)
    for order in (None, lambda ts: ts[::-1], lambda ts: ts[1::2] + ts[::2]):
        with connect("inprocess", order=order) as ex:
            got = sample_networks_on(ex, [24, 24, 24], x, 5000, task_seconds=1e-9, **kw)
        assert got.chunks == ref.chunks and len(got.chunks) > 3
        for name in ("sq_ratio", "layer_ratio", "last_gram"):
            np.testing.assert_array_equal(getattr(got, name), getattr(ref, name))


def test_sweep_certify_and_validate_are_bit_identical_inprocess_local1_local2_and_reversed(tmp_path, small_tasks):
    """One design per entry point; each run on four executors gives the same bytes. (iris: more
    inputs than dimensions, where the Gram sampler's QR factor once depended on the thread count,
    tests/sim/test_core.py.)"""
    X = load_dataset("iris")
    claims = ["rho_mean", "width_exact_union"]
    tables, certs, vals = {}, {}, {}
    for spec, order in (("inprocess", None), ("inprocess", lambda ts: ts[::-1]), ("local:1", None),
                        ("local:2", None)):
        name = spec + ("-reversed" if order else "")
        with connect(spec, order=order) as ex:
            if ex.distributed:
                wait_for_workers(ex, int(spec[-1]))
            r = S.sweep(out=tmp_path / name, executor=ex, **DESIGN)
            tables[name] = _csv(tmp_path / name)
            c = certify(X, depth=2, delta=0.1, eps=0.5, seed=3, executor=ex)
            certs[name] = (c.certified_width, [(t.width, t.failures) for t in c.tests])
            vals[name] = [(v.estimate, v.ci) for v in run_claims(claims, trials=3000, seed=2, executor=ex)]
        assert r.computed == r.tasks > 2 * len(r.rows)          # several tasks per cell
    assert len(set(tables.values())) == 1
    assert len({json.dumps(v) for v in certs.values()}) == 1
    assert len({json.dumps(v) for v in vals.values()}) == 1
    # and the same as the library's default path (no executor at all)
    c = certify(X, depth=2, delta=0.1, eps=0.5, seed=3)
    assert (c.certified_width, [(t.width, t.failures) for t in c.tests]) == certs["inprocess"]
    assert [(v.estimate, v.ci) for v in run_claims(claims, trials=3000, seed=2)] == vals["inprocess"]


# --- faults --------------------------------------------------------------------------------------------
def test_a_killed_worker_is_replaced_and_the_table_is_the_same(tmp_path, monkeypatch):
    """Kill one worker process (SIGKILL, by its id) after the third task: Dask reruns what it held
    on the other worker and the nanny starts a new one; the table equals the in-process one."""
    monkeypatch.setattr(S, "TASK_SECONDS", 0.02)
    design = dict(DESIGN, widths=(64, 128), trials=6000)
    S.sweep(out=tmp_path / "ref", **design)
    killed = []
    with connect("local:2") as ex:
        wait_for_workers(ex, 2)
        before = worker_pids(ex)

        def progress(stage, done, total):
            if stage == "tasks" and done == 3 and not killed:
                pid = sorted(before.values())[0]
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)

        r = S.sweep(out=tmp_path / "dask", executor=ex, progress=progress, **design)
        wait_for_workers(ex, 2)
        after = worker_pids(ex)
    assert killed and killed[0] not in after.values() and r.computed == r.tasks > 10
    assert _csv(tmp_path / "dask") == _csv(tmp_path / "ref")


class _Interrupt(Exception):
    pass


def test_an_interrupted_sweep_resumes_computing_only_what_is_missing(tmp_path, small_tasks):
    full = S.sweep(out=tmp_path / "full", **DESIGN)

    def stop_after_5(stage, done, total):
        if stage == "tasks" and done == 5:
            raise _Interrupt

    with pytest.raises(_Interrupt):
        S.sweep(out=tmp_path / "run", progress=stop_after_5, **DESIGN)
    files = sorted((tmp_path / "run" / "tasks").glob("*.json"))
    assert len(files) == 5 and not (tmp_path / "run" / "sweep.csv").exists()
    again = S.sweep(out=tmp_path / "run", **DESIGN)
    assert (again.reused, again.computed, again.corrupt) == (5, full.tasks - 5, 0)
    assert _csv(tmp_path / "run") == _csv(tmp_path / "full")
    # a third run recomputes nothing
    third = S.sweep(out=tmp_path / "run", **DESIGN)
    assert (third.reused, third.computed) == (full.tasks, 0) and _csv(tmp_path / "run") == _csv(tmp_path / "full")


def test_corrupt_partial_and_foreign_task_files_are_recomputed_never_merged(tmp_path, small_tasks):
    out = tmp_path / "run"
    full = S.sweep(out=out, **DESIGN)
    reference = _csv(out)
    files = sorted((out / "tasks").glob("*.json"))
    # 1. a partial write (truncated JSON)
    files[0].write_text(files[0].read_text()[:40])
    # 2. a changed count with the old checksum
    d = json.loads(files[1].read_text())
    d["payload"]["failures"] += 1
    files[1].write_text(json.dumps(d))
    # 3. a consistent file of another run (checksum recomputed): not this sweep's
    d = json.loads(files[2].read_text())
    d["payload"]["run"] = "0" * 16
    d["sha256"] = S._digest(d["payload"])
    files[2].write_text(json.dumps(d))
    # 4. a count larger than the task's networks, checksum recomputed
    d = json.loads(files[3].read_text())
    d["payload"]["failures"] = d["payload"]["trials"] + 1
    d["sha256"] = S._digest(d["payload"])
    files[3].write_text(json.dumps(d))
    again = S.sweep(out=out, **DESIGN)
    assert (again.corrupt, again.computed, again.reused) == (4, 4, full.tasks - 4)
    assert _csv(out) == reference


def test_an_output_directory_of_another_sweep_is_refused(tmp_path, small_tasks):
    out = tmp_path / "run"
    S.sweep(out=out, **DESIGN)
    with pytest.raises(DomainError, match=r"holds a sweep of other arguments .*results are never merged"):
        S.sweep(out=out, **dict(DESIGN, eps=0.3))
    (out / "sweep.json").write_text("{not json")
    with pytest.raises(DomainError, match="holds an unreadable sweep.json"):
        S.sweep(out=out, **DESIGN)


# --- a real cluster: scheduler and workers as subprocesses --------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_subprocess_scheduler_and_two_workers_over_tcp(tmp_path):
    """`dask scheduler` and two `dask worker`s started as processes on 127.0.0.1; the sweep command
    runs through --scheduler tcp://127.0.0.1:PORT and writes the in-process table, and validate and
    certify give their in-process numbers through it."""
    from typer.testing import CliRunner

    from initbounds.cli import app

    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = dict(os.environ, INITBOUNDS_THREADS="1")
    bindir = Path(sys.executable).parent
    dask = str(bindir / "dask") if (bindir / "dask").exists() else "dask"
    procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)]
    try:
        time.sleep(0.5)
        for _ in range(2):
            procs.append(subprocess.Popen([dask, "worker", address, "--nthreads", "1", "--no-dashboard"],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env))
        deadline = time.monotonic() + 60
        while True:
            try:
                with connect(address, timeout=5.0) as ex:
                    wait_for_workers(ex, 2, timeout=max(1.0, deadline - time.monotonic()))
                break
            except InitBoundsError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        args = ["sweep", "--widths", "16:64:x2", "--depths", "2,3", "--samples", "3", "--delta", "0.1", "--eps", "0.4",
                "--trials", "2000", "--seed", "7"]
        runner = CliRunner()
        a = runner.invoke(app, [*args, "--out", str(tmp_path / "tcp"), "--scheduler", address, "--json"])
        b = runner.invoke(app, [*args, "--out", str(tmp_path / "local"), "--json"])
        assert a.exit_code == 0 and b.exit_code == 0, a.output + b.output
        assert json.loads(a.stdout)["scheduler"] == address
        assert _csv(tmp_path / "tcp") == _csv(tmp_path / "local")
        # validate and certify through the same cluster: the same numbers as in-process
        for cmd in (["validate", "rho_mean", "width_exact_union", "--trials", "3000", "--seed", "4"],
                    ["certify", "--dataset", "iris", "--depth", "2", "--delta", "0.1", "--eps", "0.5", "--seed", "2"]):
            a = runner.invoke(app, [*cmd, "--scheduler", address, "--json"])
            b = runner.invoke(app, [*cmd, "--json"])
            assert a.exit_code == 0 and b.exit_code == 0, a.output + b.output
            da, db = json.loads(a.stdout), json.loads(b.stdout)
            if cmd[0] == "validate":
                assert [(c["estimate"], c["ci"]) for c in da["claims"]] == [(c["estimate"], c["ci"]) for c in db["claims"]]
            else:
                assert da["certified_width"] == db["certified_width"]
                assert [t["failures"] for t in da["tests"]] == [t["failures"] for t in db["tests"]]
    finally:
        for p in procs[::-1]:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


def test_a_cluster_without_dask_installed_is_one_line(monkeypatch):
    """The core runs without the extra; asking for a cluster names the extra to install."""
    monkeypatch.setitem(sys.modules, "distributed", None)          # import distributed → ImportError
    with pytest.raises(InitBoundsError, match=r"^--scheduler local:K and tcp://… need Dask: pip install "
                                              r"'initbounds\[dask\]'$"):
        with connect("local:1"):
            pass
    with connect("inprocess") as ex:                                # in-process needs nothing
        assert ex.map([Task("a", abs, (-2,))]) == {"a": 2}
