"""Issue 16's benchmark: distributed tasks on this machine (prints figures and writes
benchmarks/dask.json; not a test). Run: `.venv/bin/python benchmarks/dask_bench.py` (about 2 min).

In one run, side by side:
1. a CPU-bound sweep in this process on one torch thread (the baseline) against the same sweep on
   `local:2`, with and without the cluster's start-up; the two tables must be identical;
2. the per-task overhead of Dask here (no-op tasks on `local:1` and `local:2`: seconds per task and
   tasks per second), and the smallest task at which the overhead falls under 5%;
3. the measured cost of the tasks `validate` sends for two claims (seconds per network and result
   bytes per network), and from it the projected time of a 10^8-network `validate` of each on
   N workers, with what limits it first: the scheduler's task rate or the result size the client
   must hold.
"""
from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: The CPU-bound sweep: Gram sampler on 16 inputs (about 27 s in one process on one thread here).
SWEEP = dict(widths=(128, 256, 512), depths=(4, 8), samples=16, correlation=0.3, delta=0.1, eps=0.3, trials=6000,
             seed=1)
#: Dask's scheduler handles about this many tasks per second in practice (its documentation: about
#: 1 ms of scheduler time per task); the projection uses the smaller of this and what we measured.
SCHEDULER_RATE = 4000.0
WORKERS = (1, 2, 8, 64, 1000)
TRIALS = 10**8
#: Client memory assumed available for gathered results (bytes).
CLIENT_MEMORY = 64 * 2**30


def _noop(i):
    return i


def speedup() -> dict:
    from initbounds.sim.scheduler import connect, wait_for_workers
    from initbounds.sim.sweep import sweep

    os.environ["INITBOUNDS_THREADS"] = "1"
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        a = sweep(out=f"{tmp}/a", **SWEEP)
        t_in = time.perf_counter() - t
        t = time.perf_counter()
        with connect("local:2") as ex:
            wait_for_workers(ex, 2)
            t_start = time.perf_counter() - t
            t1 = time.perf_counter()
            b = sweep(out=f"{tmp}/b", executor=ex, **SWEEP)
            t_run = time.perf_counter() - t1
        same = Path(f"{tmp}/a/sweep.csv").read_bytes() == Path(f"{tmp}/b/sweep.csv").read_bytes()
    return {"design": {k: list(v) if isinstance(v, tuple) else v for k, v in SWEEP.items()}, "tasks": a.tasks,
            "inprocess_1_thread_s": t_in, "local2_start_s": t_start, "local2_run_s": t_run,
            "speedup_run": t_in / t_run, "speedup_with_start": t_in / (t_start + t_run), "identical_tables": same,
            "model_seconds": a.model_seconds, "tasks_b": b.tasks}


def overhead() -> dict:
    from initbounds.sim.scheduler import Task, connect, wait_for_workers

    out = {}
    for spec, k in (("local:1", 1), ("local:2", 2)):
        with connect(spec) as ex:
            wait_for_workers(ex, k)
            ex.map([Task(f"warm{i}", _noop, (i,)) for i in range(50)])
            n = 2000
            t = time.perf_counter()
            ex.map([Task(f"t{i}", _noop, (i,)) for i in range(n)])
            dt = time.perf_counter() - t
        out[spec] = {"tasks": n, "seconds": dt, "per_task_s": dt / n, "tasks_per_s": n / dt}
    per = out["local:1"]["per_task_s"]
    out["min_task_s_for_5pct"] = per / 0.05
    return out


def validate_tasks() -> dict:
    """Seconds and result bytes per network of the tasks two claims send (ctx.sample's blocks)."""
    import torch

    from initbounds.sim.core import Stream
    from initbounds.sim.engine import chunk_blocks, estimate_seconds, plan_chunks, sample_networks
    from initbounds.sim.scheduler import TASK_SECONDS

    designs = {"rho_mean (width 64, depth 1, one input: norm sampler)": ([64], torch.ones(1, 64, dtype=torch.float64)),
               "width_exact_union (width 127, depth 10, 10 inputs: Gram sampler)":
                   ([127] * 10, torch.randn(10, 127, dtype=torch.float64, generator=torch.Generator().manual_seed(0)))}
    out = {}
    for name, (widths, x) in designs.items():
        T = 200_000 if len(widths) == 1 else 20_000
        path, chunk, n_chunks = plan_chunks(widths, x, T, fan="out", stream=Stream(0, "b"))
        per_model = estimate_seconds(widths, x.shape[0], path, input_dim=x.shape[1])
        block = chunk_blocks(n_chunks, chunk, per_model, TASK_SECONDS)[0]
        sample_networks(widths, x, T, fan="out", stream=Stream(0, "b"), chunks=block)      # warm
        t = time.perf_counter()
        s = sample_networks(widths, x, T, fan="out", stream=Stream(0, "b"), chunks=block)
        dt = time.perf_counter() - t
        nbytes = s.sq_ratio.nbytes + s.layer_ratio.nbytes
        # the task size a 10^8-network run is cut into (the cost model's ~1 s blocks of whole chunks)
        _, chunk8, n8 = plan_chunks(widths, x, TRIALS, fan="out", stream=Stream(0, "b"))
        per_task8 = len(chunk_blocks(n8, chunk8, per_model, TASK_SECONDS)[0]) * chunk8
        out[name] = {"path": path, "measured_networks": s.trials, "measured_s": dt, "s_per_network": dt / s.trials,
                     "result_bytes_per_network": nbytes / s.trials, "networks_per_task": per_task8,
                     "task_s": per_task8 * dt / s.trials}
    return out


def projection(tasks: dict, rate: float) -> dict:
    """Projected wall time of a 10^8-network validate of each claim on N workers."""
    rows = {}
    for name, d in tasks.items():
        n_tasks = -(-TRIALS // d["networks_per_task"])
        compute = TRIALS * d["s_per_network"]
        result = TRIALS * d["result_bytes_per_network"]
        per_n = {}
        for w in WORKERS:
            by_compute = compute / w
            by_scheduler = n_tasks / rate
            per_n[w] = {"seconds": max(by_compute, by_scheduler, d["task_s"]),
                        "limit": "scheduler rate" if by_scheduler > by_compute else "compute"}
        rows[name] = {"tasks": n_tasks, "compute_s": compute, "result_gib": result / 2**30,
                      "fits_client": result <= CLIENT_MEMORY, "workers": per_n,
                      "fails_first": ("result size (the client gathers every network's ratios: "
                                      f"{result / 2**30:,.0f} GiB > {CLIENT_MEMORY / 2**30:.0f} GiB)")
                      if result > CLIENT_MEMORY else "scheduler rate (at "
                      f"{n_tasks / max(rate, 1):,.0f} s of scheduling for {n_tasks:,} tasks)"}
    return rows


def main() -> None:
    import torch

    res = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__}}
    print("1. speed-up: CPU-bound sweep, in-process on 1 thread vs local:2")
    res["speedup"] = s = speedup()
    print(f"   {s['tasks']} tasks; in-process {s['inprocess_1_thread_s']:.1f} s; local:2 {s['local2_run_s']:.1f} s "
          f"(+ {s['local2_start_s']:.1f} s start): speed-up {s['speedup_run']:.2f}x "
          f"({s['speedup_with_start']:.2f}x with start); identical tables: {s['identical_tables']}")
    print("2. per-task overhead (no-op tasks)")
    res["overhead"] = o = overhead()
    for spec in ("local:1", "local:2"):
        print(f"   {spec}: {o[spec]['per_task_s'] * 1e3:.2f} ms per task, {o[spec]['tasks_per_s']:,.0f} tasks/s")
    print(f"   overhead under 5% for tasks of ≥ {o['min_task_s_for_5pct'] * 1e3:.0f} ms "
          f"(task size used: about 1 s by the cost model)")
    print("3. validate's tasks and a projected 10^8-network validate")
    res["validate_tasks"] = v = validate_tasks()
    rate = min(SCHEDULER_RATE, o["local:2"]["tasks_per_s"])
    res["projection"] = p = projection(v, rate)
    res["scheduler_rate_used"] = rate
    for name, d in v.items():
        q = p[name]
        print(f"   {name}: {d['s_per_network'] * 1e6:.2f} µs per network (measured on {d['measured_networks']:,}), "
              f"{d['result_bytes_per_network']:.0f} B per network; a 10^8 run: {q['tasks']:,} tasks of "
              f"{d['networks_per_task']:,} networks ({d['task_s']:.2f} s each), {q['compute_s']:,.0f} s of one core, "
              f"{q['result_gib']:.1f} GiB of results on the client; fails first: {q['fails_first']}")
        print("      " + "; ".join(f"N={w}: {r['seconds']:,.0f} s ({r['limit']})" for w, r in q["workers"].items()))
    (HERE / "dask.json").write_text(json.dumps(res, indent=1))
    print(f"wrote {HERE / 'dask.json'}")


if __name__ == "__main__":
    main()
