"""Thread-policy benchmark (issue 11): the samplers at 1 and 2 torch threads and under the policy of
``sim.core.thread_policy``, on a quiet machine and with an artificial load. Not a test.

Run: `.venv/bin/python benchmarks/threads.py [--quick]` (about 3 minutes on 2 cores; --quick: a
smaller set for a smoke run). For each workload it times the best of a few repetitions with
``INITBOUNDS_THREADS=1``, ``INITBOUNDS_THREADS=2`` and the policy (the variable unset; torch's
default threads above ``sim.core.PARALLEL_ELEMENTS``), first on the machine as it is ("quiet"),
then while a busy subprocess spins on one core ("loaded": pinned to CPU 0 where the platform
allows), the situation in which issue 11 measured `regions --widths 32 --slice --trials 100` 5.2×
slower with torch's default threads than with one. The naive loop of benchmarks/bench.py (one
``nn.Sequential`` per network) runs at 1 and 2 threads for the Gram sampler's lead over it.

Workloads: `regions` slice counts (hidden widths 8 and 32, 64² and 128² grids), the exact Gram
sampler (sim/engine.py, path "gram") at (width, depth, inputs) = (256, 10, 1) and (1024, 50, 16),
and batched real networks (path "real") at (256, 10, 16) and (1024, 10, 16), each with the
working-set elements per batch that the policy sees. Prints a table and writes
benchmarks/threads.json beside this file (the machine, its load averages before each phase, the
times, and the policy's choice per workload).
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench import _best  # noqa: E402  (the same best-of-reps timer as make bench)
MODES = ("1", "2", "policy")


def _with_threads(mode, f):
    """f() under INITBOUNDS_THREADS = mode ("policy": unset, torch's default threads restored)."""
    old = os.environ.pop("INITBOUNDS_THREADS", None)
    if mode != "policy":
        os.environ["INITBOUNDS_THREADS"] = mode
    try:
        return f()
    finally:
        os.environ.pop("INITBOUNDS_THREADS", None)
        if old is not None:
            os.environ["INITBOUNDS_THREADS"] = old


def workloads(quick: bool):
    import torch

    from initbounds.sim.core import PARALLEL_ELEMENTS, Run, Stream, chunk_size  # noqa: F401
    from initbounds.sim.engine import sample_inputs, sample_networks
    from initbounds.sim.regions import _GRID_FACTOR, sample_slice_regions

    out = []
    slices = [(8, 64, 40), (32, 128, 20)] if quick else [(8, 64, 100), (32, 128, 100)]
    for width, G, T in slices:
        elements = _GRID_FACTOR * G * G * max(2, width)
        out.append((f"regions slice widths {width}, grid {G}, {T} nets", elements,
                    lambda width=width, G=G, T=T: sample_slice_regions(
                        (width,), T, input_dim=2, grid=G, bias_var=1.0, stream=Stream(0, "bench.threads"))))
    nets = [("gram", 256, 10, 1, 200), ("gram", 1024, 50, 16, 6), ("real", 256, 10, 16, 200),
            ("real", 1024, 10, 16, 20)]
    if quick:
        nets = [("gram", 256, 10, 1, 50), ("gram", 1024, 20, 16, 3), ("real", 256, 10, 16, 50)]
    for path, n, L, N, T in nets:
        x = sample_inputs(n, N, correlation=0.0, stream=Stream(0, "bench.inputs"), dtype=torch.float32)
        if path == "gram":
            elements = 3 * n * (N + min(n, N))
        else:
            elements = n * n + 3 * N * n
        out.append((f"{path} sampler ({n}, {L}, {N}) × {T} nets", elements,
                    lambda path=path, n=n, L=L, T=T, x=x: sample_networks(
                        [n] * L, x, T, fan="in", stream=Stream(0, "bench.threads"), dtype=torch.float32, path=path)))
    return out


def naive(quick: bool):
    import torch

    sys.path.insert(0, str(HERE))
    from bench import naive_loop

    cfgs = [(256, 10, 1, 20), (1024, 20 if quick else 50, 16, 2)]
    out = []
    for n, L, N, T in cfgs:
        x = torch.randn(N, n, generator=torch.Generator().manual_seed(0))
        out.append((f"naive loop ({n}, {L}, {N}) × {T} nets", T, lambda n=n, L=L, N=N, T=T, x=x: naive_loop(
            torch, n, L, N, T, x)))
    return out


def _record_policy():
    """Wrap sim.core.thread_policy (looked up by Run at each batch) to record the threads in force."""
    import initbounds.sim.core as core

    seen: set = set()
    original = core.thread_policy

    @contextmanager
    def recording(elements):
        with original(elements) as n:
            seen.add(n)
            yield n

    core.thread_policy = recording
    return seen


def measure(quick: bool, reps: int) -> list:
    import torch

    default = torch.get_num_threads()
    seen = _record_policy()
    rows = []
    for name, elements, f in workloads(quick):
        f()                                                    # warm-up (imports, first allocations)
        row = {"workload": name, "elements_per_network": elements}
        for mode in MODES:
            seen.clear()
            row[f"{mode}_s"] = _with_threads(mode, lambda: _best(f, reps))
        row["policy_threads"] = sorted(seen)
        rows.append(row)
        thr = ",".join(map(str, row["policy_threads"]))
        print(f"  {name:48s} 1: {row['1_s']:8.3f} s   2: {row['2_s']:8.3f} s   policy "
              f"({thr} thr): {row['policy_s']:8.3f} s", flush=True)
    for name, _, f in naive(quick):
        row = {"workload": name}
        for k in (1, 2):
            torch.set_num_threads(k)
            row[f"{k}_s"] = _best(f, 1)
        torch.set_num_threads(default)
        rows.append(row)
        print(f"  {name:48s} 1: {row['1_s']:8.3f} s   2: {row['2_s']:8.3f} s", flush=True)
    return rows


def busy_core():
    """A subprocess spinning on one core (CPU 0 where affinity can be set); the caller kills it."""
    p = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        os.sched_setaffinity(p.pid, {0})
    except (AttributeError, OSError):
        pass
    time.sleep(1.0)
    return p


def main() -> None:
    import torch

    quick = "--quick" in sys.argv
    reps = 2 if quick else 3
    out = {"machine": {"python": platform.python_version(), "torch": torch.__version__, "cpus": os.cpu_count(),
                       "default_threads": torch.get_num_threads(), "platform": platform.platform()},
           "quick": quick, "phases": {}}
    from initbounds.sim.core import PARALLEL_ELEMENTS
    out["policy"] = {"PARALLEL_ELEMENTS": PARALLEL_ELEMENTS}
    for phase in ("quiet", "loaded"):
        load = os.getloadavg()
        print(f"== {phase} (load averages {load[0]:.2f} {load[1]:.2f} {load[2]:.2f})", flush=True)
        busy = busy_core() if phase == "loaded" else None
        try:
            rows = measure(quick, reps)
        finally:
            if busy is not None:
                busy.kill()
                busy.wait()
        out["phases"][phase] = {"load_before": load, "rows": rows}
    print("\n== summary: time with 2 threads / time with the policy (> 1: the policy is faster)")
    for i, row in enumerate(out["phases"]["quiet"]["rows"]):
        if "policy_s" not in row:
            continue
        lo = out["phases"]["loaded"]["rows"][i]
        print(f"  {row['workload']:48s} quiet {row['2_s'] / row['policy_s']:6.2f}×   loaded "
              f"{lo['2_s'] / lo['policy_s']:6.2f}×")
    path = HERE / "threads.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
