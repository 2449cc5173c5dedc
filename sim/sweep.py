"""``initbounds sweep``: a phase diagram of the failure probability over widths × depths, run as
tasks on any executor (in-process, ``local:K``, ``tcp://host:port``), written as it goes and
resumable (docs/theory.md §16, docs/guide/sweep.md).

Each cell (width n, depth L) simulates T He-initialized ReLU networks (fan-out, zero bias, every
layer of width n) on the sweep's N inputs and counts those in which some input leaves the ε-band
(:func:`sim.engine.count_band_failures`; the fastest exact sampler). The networks of a cell are
cut into the fixed chunks of :mod:`sim.core`, drawn from ``Stream(seed, "sweep/n<n>/L<L>")``, and
the chunks into tasks of about :data:`sim.scheduler.TASK_SECONDS` by the cost model
(:func:`sim.engine.chunk_blocks`). A task's result is an integer count, a function of its key
only, so the table is bit-identical on every executor and in any task order.

On disk (``out``): ``sweep.json`` (the arguments and their hash, written first), one file
``tasks/<key>.json`` per finished task (written atomically as it completes, with the run's hash
and a SHA-256 checksum of its payload), and at the end the table ``sweep.csv`` (and
``sweep.parquet`` when pyarrow is installed), one row per cell. Run again with the same arguments
and ``out``, a sweep reuses every valid task file and computes only the missing ones; a task file
that does not parse, fails its checksum or belongs to another run is deleted and recomputed,
never merged; a ``sweep.json`` of other arguments is refused.
"""
from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch

from ..bounds.band import band_for_eps
from ..bounds.errors import CostLimitError, DomainError
from ..bounds.sweep import BOUND_METHODS, BUDGET_SECONDS, cell_bounds, min_width_curves, sweep_inputs
from . import stats
from .claims import ClaimSet, Evidence
from .core import Stream
from .engine import (chunk_blocks, count_band_failures, estimate_seconds, plan_chunks, sample_inputs)
from .scheduler import TASK_SECONDS, Task, connect

__all__ = ["sweep", "SweepResult", "FORMAT", "COLUMNS", "read_table"]

#: Version of the task plan and task-file layout: files of another version are recomputed.
FORMAT = 1
#: The table's columns, in order.
COLUMNS = ("width", "depth", "samples", "eps", "delta", "trials", "failures", "frequency", "ci_low", "ci_high",
           "exact_single", *(f"bound_{m}" for m in BOUND_METHODS), "authors_formula_delta", "tasks")


@dataclass
class SweepResult:
    """A finished sweep: ``rows`` (one dict per cell, keys :data:`COLUMNS`, by depth then
    width), ``curves`` ({method: min width per depth}), the ``inputs`` (arguments), the ``files``
    written, and how the tasks went: ``tasks`` in all, ``reused`` from earlier runs, ``corrupt``
    files found and recomputed, ``computed`` here."""

    rows: list
    curves: dict
    inputs: dict
    files: dict
    tasks: int
    reused: int
    corrupt: int
    computed: int
    seconds: float
    model_seconds: float
    notes: tuple = field(default_factory=tuple)
    out: str = ""

    def as_dict(self) -> dict:
        return {"inputs": self.inputs, "out": self.out, "cells": self.rows, "min_width_curves": self.curves, "files": self.files,
                "tasks": {"total": self.tasks, "reused": self.reused, "corrupt_recomputed": self.corrupt,
                          "computed": self.computed},
                "seconds": round(self.seconds, 3), "model_seconds": self.model_seconds, "notes": list(self.notes)}

    def plot(self, path: Optional[str] = None):
        """The heatmap of the simulated failure probability with each method's minimum-width curve."""
        from .plots import plot_sweep

        return plot_sweep(self, path)


def _inputs_array(data, samples, correlation, input_dim, seed) -> tuple:
    if data is not None:
        from .certify import load_data

        X = load_data(data) if isinstance(data, (str, os.PathLike)) else np.asarray(data, dtype=np.float64)
        if X.ndim != 2 or X.shape[0] < 1 or X.shape[1] < 1:
            raise DomainError(f"data must be an N × n0 array; got shape {X.shape}", param="data")
        return torch.as_tensor(X, dtype=torch.float64), f"data ({X.shape[0]} × {X.shape[1]})"
    if samples is None:
        raise DomainError("give samples (with correlation) or data", param="samples")
    x = sample_inputs(input_dim, samples, correlation=correlation, stream=Stream(seed, "sweep"))
    if samples == 1:
        return x, f"one input in R^{input_dim}"
    return x, f"{samples} inputs in R^{input_dim}, pairwise correlation ≈ {correlation:g}"


def _cell_stream(seed: int, n: int, L: int) -> Stream:
    return Stream(seed, f"sweep/n{n}/L{L}")


def _plan(widths, depths, x, trials, seed):
    """[(cell, key, chunk block, networks, sampler path)] for every task, and the cost model's
    seconds per cell."""
    N, n0 = x.shape
    plan, model = [], {}
    for L in depths:
        for n in widths:
            stream = _cell_stream(seed, n, L)
            path, chunk, n_chunks = plan_chunks([n] * L, x, trials, fan="out", stream=stream)
            per_net = estimate_seconds([n] * L, N, path, input_dim=n0)
            model[(n, L)] = trials * per_net
            for b in chunk_blocks(n_chunks, chunk, per_net, TASK_SECONDS):
                size = sum(min(chunk, trials - c * chunk) for c in b)
                plan.append(((n, L), f"n{n}-L{L}-c{b[0]}-{b[-1]}", b, size, path))
    return plan, model


# --- the store -------------------------------------------------------------------------------------------
def _digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _read_task(path: Path, run: str, key: str, block, size) -> Optional[dict]:
    """The payload of a valid task file, else None (unparsable, bad checksum, other run or task)."""
    try:
        d = json.loads(path.read_text())
        payload, check = d["payload"], d["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(payload, dict) or _digest(payload) != check:
        return None
    ok = (payload.get("format") == FORMAT and payload.get("run") == run and payload.get("key") == key
          and payload.get("chunks") == list(block) and payload.get("trials") == size
          and isinstance(payload.get("failures"), int) and 0 <= payload["failures"] <= size)
    return payload if ok else None


def _task(widths, x, trials, lo, hi, layers, stream, path, block):
    """One task (module level: Dask workers import it by name)."""
    return count_band_failures(widths, x, trials, lo, hi, layers=layers, block=block, fan="out", stream=stream,
                               path=path)


def sweep(widths, depths, *, delta, eps, trials, out, samples=None, correlation=0.0, data=None, input_dim=64,
          norm="squared", layers="all", seed=0, confidence=0.95, budget_seconds=BUDGET_SECONDS, executor=None,
          progress: Optional[Callable[[str, int, int], None]] = None) -> SweepResult:
    r"""Simulate and derive the failure probability over ``widths`` × ``depths``; write the table.

    Arguments: ``widths``, ``depths`` the grid (integers ≥ 1; a sequence, or :data:`GRID`'s
    text such as "16:4096:x2"); the inputs are ``samples`` N unit vectors in R^``input_dim``
    with pairwise ``correlation`` c ∈ [0, 1) (drawn from ``Stream(seed, "sweep")``; default one
    input), or ``data``
    (an N × n0 array or a .npy/.csv/.pt file, as ``certify``); ``delta`` δ, ``eps`` ε in (0, 1);
    ``norm``/``layers`` as ``width``; ``trials`` T networks per cell; ``out`` the directory
    (created if missing); ``confidence`` of the two-sided Clopper–Pearson intervals;
    ``budget_seconds`` the ceiling on the simulation's seconds by the cost model
    (:class:`CostLimitError` before any work above it); ``executor`` a
    :class:`sim.scheduler.Executor` (default: in this process); ``progress(stage, done, total)``
    with stage "bounds" (cells) or "tasks".

    Estimator per cell: the frequency k/T of networks in which some input leaves the band (some
    layer, or the last), with its Clopper–Pearson interval; i.i.d. networks given the inputs.
    Derived per cell: :func:`bounds.sweep.cell_bounds`; per depth: every method's minimum width
    at δ (:func:`bounds.sweep.min_width_curves`). Returns a :class:`SweepResult`.
    """
    t0 = time.perf_counter()
    d = sweep_inputs(widths=widths, depths=depths, delta=delta, eps=eps, trials=trials, samples=samples,
                     correlation=correlation, input_dim=input_dim, norm=norm, layers=layers, seed=seed,
                     confidence=confidence, budget_seconds=budget_seconds)
    widths, depths, delta, eps, trials, samples, correlation, input_dim, norm, layers, seed, confidence, \
        budget_seconds = d.values()
    if data is not None and samples is not None:
        raise DomainError("give {samples} (with {correlation}) or {data}, not both", param="samples",
                          names=("samples", "correlation", "data"))
    if data is None and samples is None:
        samples = 1
    out = Path(out)
    x, source = _inputs_array(data, samples, correlation, input_dim, seed)
    N, n0 = x.shape
    lo, hi = band_for_eps(eps, norm)
    plan, model = _plan(widths, depths, x, trials, seed)
    model_total = sum(model.values())
    if model_total > budget_seconds:
        worst = max(model, key=model.get)
        raise CostLimitError(
            f"the sweep simulates {trials:,} networks in each of {len(model)} cells: about {model_total:,.0f} s of "
            f"one core by the cost model (the largest cell, width {worst[0]:,} × depth {worst[1]}, "
            f"{model[worst]:,.0f} s), more than {{budget_seconds}} = {budget_seconds:g} s; raise it or lower "
            f"{{trials}} or the grid", param="budget_seconds", names=("budget_seconds", "trials"))
    inputs = {"widths": list(widths), "depths": list(depths), "samples": N, "input_dim": n0, "inputs": source,
              "correlation": correlation if data is None else None, "delta": delta, "eps": eps, "norm": norm,
              "layers": layers, "trials": trials, "seed": seed, "confidence": confidence}
    ident = {"format": FORMAT, **{k: v for k, v in inputs.items() if k != "confidence"},
             "x_sha256": hashlib.sha256(np.ascontiguousarray(x.numpy()).tobytes()).hexdigest()}
    run = _digest(ident)[:16]
    tasks_dir = _open_store(out, ident, run)

    # the derived side, on the client (closed forms and exact recursions: seconds for a large grid)
    cells = [(n, L) for L in depths for n in widths]
    bounds = {}
    for i, (n, L) in enumerate(cells):
        if progress:
            progress("bounds", i, len(cells))
        bounds[(n, L)] = cell_bounds(n, L, N, eps, norm=norm, layers=layers)
    if progress:
        progress("bounds", len(cells), len(cells))
    curves = min_width_curves(depths, N, delta, eps, norm=norm, layers=layers)

    # the simulated side: reuse valid task files, compute the rest, write each as it completes
    counts, todo, corrupt = {}, [], 0
    by_key = {}
    for cell, key, block, size, path in plan:
        by_key[key] = (cell, block, size)
        f = tasks_dir / f"{key}.json"
        payload = _read_task(f, run, key, block, size) if f.exists() else None
        if payload is not None:
            counts[key] = payload["failures"]
            continue
        if f.exists():
            corrupt += 1
            f.unlink()
        n, L = cell
        todo.append(Task(key, _task, ([n] * L, x, trials, lo, hi, layers, _cell_stream(seed, n, L), path, block)))
    reused = len(counts)

    def on_result(task, result):
        k, size = result
        cell, block, want = by_key[task.key]
        if size != want:   # pragma: no cover - a sampler that returned other rows than planned
            raise RuntimeError(f"task {task.key} returned {size} networks, planned {want}")
        payload = {"format": FORMAT, "run": run, "key": task.key, "cell": list(cell), "chunks": list(block),
                   "trials": size, "failures": k}
        _write_atomic(tasks_dir / f"{task.key}.json", json.dumps({"payload": payload, "sha256": _digest(payload)}))
        counts[task.key] = k

    with contextlib.nullcontext(executor) if executor is not None else connect() as ex:
        ex.map(todo, on_result=on_result, progress=None if progress is None else (lambda d, t: progress("tasks", d, t)))

    failures = {c: 0 for c in cells}
    n_tasks = {c: 0 for c in cells}
    for cell, key, *_ in plan:
        failures[cell] += counts[key]
        n_tasks[cell] += 1
    rows = []
    for (n, L) in cells:
        k = failures[(n, L)]
        a, b = stats.clopper_pearson(k, trials, confidence)
        cb = bounds[(n, L)]
        rows.append({"width": n, "depth": L, "samples": N, "eps": eps, "delta": delta, "trials": trials, "failures": k,
                     "frequency": k / trials, "ci_low": a, "ci_high": b, "exact_single": cb.exact_single,
                     **{f"bound_{m}": cb.bounds[m] for m in BOUND_METHODS}, "authors_formula_delta": cb.authors,
                     "tasks": n_tasks[(n, L)]})
    files = _write_table(out, rows)
    notes = tuple(note for c in cells for note in bounds[c].notes)
    return SweepResult(rows, curves, inputs, files, len(plan), reused, corrupt, len(todo),
                       time.perf_counter() - t0, model_total, notes, str(out))


def _open_store(out: Path, ident: dict, run: str) -> Path:
    """Create ``out``/tasks and ``sweep.json``, or check that an existing one is this sweep's."""
    manifest = out / "sweep.json"
    if manifest.exists():
        try:
            old = json.loads(manifest.read_text())
            same = old.get("run") == run and old.get("arguments") == json.loads(json.dumps(ident))
        except (OSError, ValueError, AttributeError):
            raise DomainError(f"{{out}} = {str(out)!r} holds an unreadable sweep.json; remove it or give a new "
                              "directory", param="out") from None
        if not same:
            raise DomainError(f"{{out}} = {str(out)!r} holds a sweep of other arguments (run {old.get('run')!r}, "
                              f"this one {run!r}); give a new directory (results are never merged)", param="out")
    tasks_dir = out / "tasks"
    tasks_dir.mkdir(parents=True, exist_ok=True)
    if not manifest.exists():
        _write_atomic(manifest, json.dumps({"run": run, "arguments": ident}, indent=1, sort_keys=True))
    return tasks_dir


def _write_table(out: Path, rows: list) -> dict:
    """``sweep.csv`` (always) and ``sweep.parquet`` (with pyarrow); floats written exactly (repr)."""
    files = {}
    csv_path = out / "sweep.csv"
    tmp = csv_path.with_name(".sweep.csv.tmp")
    with open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(COLUMNS)
        for r in rows:
            w.writerow(["" if r[c] is None else repr(r[c]) if isinstance(r[c], float) else r[c] for c in COLUMNS])
    os.replace(tmp, csv_path)
    files["csv"] = str(csv_path)
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return files
    table = pa.Table.from_pylist([{c: r[c] for c in COLUMNS} for r in rows])
    pq_path = out / "sweep.parquet"
    tmp = pq_path.with_name(".sweep.parquet.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, pq_path)
    files["parquet"] = str(pq_path)
    return files


def read_table(path) -> list:
    """The rows of a ``sweep.csv`` (numbers parsed; empty cells None) — for tests and notebooks."""
    ints = {"width", "depth", "samples", "trials", "failures", "tasks"}
    with open(path, newline="") as fh:
        return [{k: (None if v == "" else int(v) if k in ints else float(v)) for k, v in r.items()}
                for r in csv.DictReader(fh)]



# --- claims ---------------------------------------------------------------------------------------------
CLAIMS = ClaimSet()

#: The claim's design: one input, so every cell's failure probability is the exact p(n, L).
EXACT_DESIGN = {"widths": (16, 64, 256), "depths": (2, 6), "eps": 0.3}


@CLAIMS.claim("sweep_exact_single", "identity",
              "sweep: each cell's simulated one-input failure frequency = exact p(n, L) (Clopper–Pearson per cell)",
              "derived (docs/theory.md §16)", trials=4000)
def _exact_single(ctx):
    import tempfile

    d = EXACT_DESIGN
    m = len(d["widths"]) * len(d["depths"])
    level = 1.0 - (1.0 - ctx.level) / m                 # Bonferroni over the cells
    with tempfile.TemporaryDirectory(prefix="initbounds-sweep-") as out:
        r = sweep(d["widths"], d["depths"], samples=1, delta=0.05, eps=d["eps"], trials=ctx.trials, out=out,
                  seed=ctx.stream.seed_of(0) % 2**62, confidence=level, executor=ctx.executor)
    worst, misses = None, []
    for row in r.rows:
        p = row["exact_single"]
        if not row["ci_low"] <= p <= row["ci_high"]:
            misses.append(f"n={row['width']}, L={row['depth']}")
        z = abs(row["frequency"] - p) / max(math.sqrt(p * (1 - p) / row["trials"]), 1e-300)
        if worst is None or z > worst[0]:
            worst = (z, row)
    row = worst[1]
    return Evidence(row["exact_single"], row["frequency"], (row["ci_low"], row["ci_high"]), not misses,
                    f"{m} cells (widths {d['widths']}, depths {d['depths']}, ε = {d['eps']}), {ctx.trials} networks "
                    f"each; farthest cell n={row['width']}, L={row['depth']} ({worst[0]:.2f} standard errors); "
                    + (f"outside: {', '.join(misses)}" if misses else "every exact p inside its interval"),
                    ctx.trials * m, path="norm")
