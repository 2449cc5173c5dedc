"""Benchmarks for initbounds (prints figures and writes JSON; not a test). Run: `make bench`.

In one run, on this machine:
1. the machine's limits: raw `torch.randn` throughput and square-matmul GFLOP/s (float32, float64);
2. the simulators side by side, same protocol, same number of networks, float32, fan-in He:
   a naive loop (one `nn.Sequential` per network, `torch.nn.init.kaiming_normal_`, one forward
   pass, the way papers simulate), batched real networks, and the fastest exact reduced sampler,
   for (width 256, depth 10, 1 input), (1024, 50, 16) and (64, 100, 2000);
3. cold start of `initbounds width` against `initbounds --help`, the time of each width method at
   L = 100, N = 10^6, δ = 1e-3, ε = 0.1, and the time of `initbounds validate` with its defaults;
4. every command that issue 11 listed as slow, hanging or crashing (CASES), run cold with a
   time limit: exit code and seconds. With `--baseline REV` the same commands also run on the
   git revision REV (checked out into a temporary folder), side by side in the same run.
Writes benchmarks/results.json (with a `ratios` object) beside this file.
Options: `--cases-only` runs part 4 alone; `--baseline REV` adds REV's column to part 4;
`--refine` runs only :func:`refine_bench` (issue 13; prints, writes nothing): the time of the
default `initbounds refine` run (cold, and in process) and the cost of the per-block measurements
as a fraction of plain training time.
`--noise` runs :func:`noise_bench` alone (issue 14; prints, writes nothing):
`.venv/bin/python benchmarks/bench.py --noise`.
"""
from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONFIGS = [(256, 10, 1, 200), (1024, 50, 16, 6), (64, 100, 2000, 20)]   # width, depth, inputs, networks
#: Issue 11's slow, hanging and crashing commands (its wording: each must answer, or refuse with its
#: cost, in < 2 s; the cold `width` under 0.5 s). Each runs as a fresh process, limited to CASE_LIMIT s.
CASES = [
    "prob --width 2 --depth 2 --eps 0.05",
    "prob --width 100000 --depth 10 --eps 1e-6",
    "prob --width 460 --depth 1000 --eps 0.88",
    "prob --width 10000000 --depth 2 --eps 0.67694",
    "prob --width 1000 --depth 100000 --eps 0.5",
    "prob --width 99999999999999999999999 --depth 3 --eps 0.1",
    "width --depth 10 --samples 100 --delta 1e-300 --eps 0.1",
    "width --depth 100 --samples 1000000 --delta 1e-300 --eps 1e-6",
    "width --depth 1000000 --samples 1 --delta 0.05 --eps 0.5",
    "width --depth 1000 --delta 0.237 --eps 0.102 --layers last",
    "width --depth 99999999999999999999999 --samples 1 --delta 0.05 --eps 0.3",
    "width --depth 10 --samples 100 --delta 0.05 --eps 0.3",
    "width --depth 100 --samples 1000000 --delta 1e-3 --eps 0.1",
    "variance --widths 10000000,10000000,10000000",
    "variance --widths 100,100 --target-var 1e-300",
    "variance --widths 141,141,141,141,141,141 --weight-var 1e308",
    "resnet --blocks 100000000 --width 64 --branch-width 64 --eta 1 --schedule inv",
    "resnet --blocks 1000000 --width 64 --branch-width 64 --eta 1",
    "moment --activation relu --s 1 --width 2000 --depth 200 --small 0.5",
    "moment --s 1e-300 --width 81 --depth 1",
    "moment --s 1.85621 --width 175 --depth 1000000",
    "check --width 10000000 --depth 3 --trials 10",
    "check --width 64 --depth 100000 --trials 0",
    "check --width 1 --s 1e-300",
    "regions --widths 8 --input-dim 100000 --slice --trials 10",
    "death --depth 1000000 --schedule 1e15,1",
]
CASE_LIMIT = 60.0
BASELINE_LIMIT = 30.0   # the old revision's hangs are cut sooner (shown as '>30')


def _exe() -> str:
    return shutil.which("initbounds") or str(Path(sys.executable).with_name("initbounds"))


def _cold(args, reps=5):
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        subprocess.run([_exe(), *args], check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _best(f, reps=3):
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return min(times)


def machine_limits(torch):
    out = {}
    for name, dt in (("float32", torch.float32), ("float64", torch.float64)):
        g = torch.Generator().manual_seed(0)
        buf = torch.empty(32, 512, 512, dtype=dt)
        sec = _best(lambda: torch.randn(buf.shape, generator=g, dtype=dt, out=buf))
        a = torch.randn(2048, 2048, dtype=dt, generator=g)
        b = torch.randn(2048, 2048, dtype=dt, generator=g)
        msec = _best(lambda: a @ b)
        out[name] = {"randn_per_s": buf.numel() / sec, "matmul_gflops": 2 * 2048**3 / msec / 1e9}
    return out


def _run_case(argv: list, limit: float = CASE_LIMIT) -> dict:
    """One cold run of ``argv``: exit code (None past the limit) and wall seconds."""
    t = time.perf_counter()
    try:
        rc = subprocess.run(argv, capture_output=True, timeout=limit).returncode
    except subprocess.TimeoutExpired:
        rc = None
    return {"rc": rc, "seconds": time.perf_counter() - t}


def _baseline_argv(rev: str, tmp: Path) -> list:
    """A command line that runs ``initbounds`` from git revision ``rev`` (exported into ``tmp``;
    the repository root is the package, so it is exported as ``tmp/initbounds``)."""
    root = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=HERE, check=True,
                          capture_output=True, text=True).stdout.strip()
    pkg = tmp / "initbounds"
    pkg.mkdir()
    archive = subprocess.run(["git", "archive", rev], cwd=root, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(pkg)], input=archive, check=True)
    return [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(tmp)!r}); "
            "from initbounds.cli import main; sys.argv[0] = 'initbounds'; main()"]


def issue_cases(baseline: str | None) -> list:
    """Part 4: each of CASES cold, here and (``baseline``) on that revision, side by side."""
    import tempfile

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        base = _baseline_argv(baseline, Path(tmp)) if baseline else None
        print(f"{'command':72s} {'now':>14s}" + (f" {baseline[:10]:>14s}" if base else ""))
        for case in CASES:
            args = case.split()
            row = {"command": "initbounds " + case, "now": _run_case([_exe(), *args])}
            if base:
                row["baseline"] = _run_case(base + args, BASELINE_LIMIT)
            rows.append(row)
            cells = [row["now"]] + ([row["baseline"]] if base else [])
            shown = " ".join(f"{'>' if c['rc'] is None else ''}{c['seconds']:6.2f} s rc={c['rc'] if c['rc'] is not None else '-'}"
                             .rjust(14) for c in cells)
            print(f"{case[:72]:72s} {shown}")
    return rows


def naive_loop(torch, n, L, N, T, x):
    """One nn.Sequential per network, kaiming_normal_ (fan-in), one forward pass, norms per layer."""
    nn = torch.nn
    g = torch.Generator().manual_seed(1)
    sq = torch.empty(T, L, N)
    for t in range(T):
        layers = []
        for _ in range(L):
            lin = nn.Linear(n, n, bias=False)
            nn.init.kaiming_normal_(lin.weight, mode="fan_in", nonlinearity="relu", generator=g)
            layers += [lin, nn.ReLU()]
        model = nn.Sequential(*layers)
        with torch.no_grad():
            h = x
            for l in range(L):
                h = model[2 * l + 1](model[2 * l](h))
                sq[t, l] = (h * h).sum(dim=1)
    return sq


def refine_bench(reps: int = 2) -> dict:
    """Issue 13: `initbounds refine` with its defaults (cold, one run) and ``run_refine`` in process;
    then, for the default design (seed 0), plain training (no records) against the same training
    with the J18 measurements every ``record_every`` steps (torch.func cosines two ways, ‖F‖/‖h‖ on
    the probe batch). Best of ``reps``. Returns the figures (also printed)."""
    import torch

    from initbounds.sim.refine import RefineConfig, _gen, block_metrics, run_refine
    from initbounds.sim.training import load_dataset, train

    out: dict = {}
    out["cli_default_cold_s"] = _cold(["refine"], reps=1)
    c = RefineConfig()
    t = time.perf_counter()
    res = run_refine(c)
    out["run_refine_default_s"] = time.perf_counter() - t
    out["run_refine_training_loops_s"] = res.train_seconds
    data = load_dataset("digits", seed=0)
    xp, yp = data.x_test[:c.probe], data.y_test[:c.probe]

    def once(record):
        net = c.net(_gen(0, "main"))
        r = train(net, data, steps=c.steps, lr=c.lr, batch=c.batch, seed=1,
                  record_every=c.record_every if record else 0,
                  record=(lambda _t, m: block_metrics(m, xp, yp)) if record else None)
        return r.seconds

    block_metrics(c.net(_gen(0, "main")), xp, yp)          # torch.func's first call builds its graphs
    plain = min(once(False) for _ in range(reps))
    measured = min(once(True) for _ in range(reps))
    out["plain_training_s"], out["measured_training_s"] = plain, measured
    out["metric_overhead_fraction"] = (measured - plain) / plain
    out["records"] = c.steps // c.record_every + 1
    out["threads"] = torch.get_num_threads()
    print(f"initbounds refine (defaults: B={c.blocks}, n={c.width}, {c.steps} steps, {c.seeds} seeds, cold): "
          f"{out['cli_default_cold_s']:.1f} s; run_refine in process {out['run_refine_default_s']:.1f} s "
          f"({res.train_seconds:.1f} s in training loops)")
    print(f"one training of the default design: plain {plain:.2f} s; with the J18 measurements at "
          f"{out['records']} records ({c.probe} probe examples) {measured:.2f} s: overhead "
          f"{100 * out['metric_overhead_fraction']:.0f}% of plain training")
def _peak_rss_mib(code: str) -> float:
    """Peak resident memory (MiB) of a fresh interpreter running ``code``: the child prints its own
    VmHWM from /proc/self/status (Linux; ``ru_maxrss`` would carry the forking parent's peak across
    exec)."""
    tail = ("; print([l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0])")
    r = subprocess.run([sys.executable, "-c", code + tail], check=True, capture_output=True, text=True)
    return int(r.stdout.strip().splitlines()[-1]) / 1024


def noise_bench() -> dict:
    """Issue 14, side by side in one run on all N = 1797 digits with the digits MLP
    (64 → 64 → 64 → 10, He, q = 8970, float64):

    1. per-example gradients and Tr K: ``sim.noise.per_example_grads`` (vmap over grad, chunked)
       against the loop of one forward and backward per example that papers use (target ≥ 20×);
    2. λ_H¹: Lanczos (``eigsh``, ARPACK tol 1e-6) against power iteration, HVPs and seconds until
       the relative error to a tight reference (eigsh, tol 1e-12) is ≤ 1e-6, at initialization and
       after 200 SGD steps (η = 0.1, S = 32); power iteration converges to the eigenvalue of largest
       magnitude, which is printed beside λ_H¹;
    3. the peak resident memory of ``measure_noise`` on N = 1797 in a fresh process, beside the same
       process without the measurement; stated budget: sim.core.MEMORY_BUDGET (1 GiB) above it.
    """
    import numpy as np
    import torch

    from initbounds.sim.core import MEMORY_BUDGET, Stream
    from initbounds.sim.noise import (FlatModel, gradient_covariance, hessian_top, per_example_grads,
                                      per_example_grads_loop, power_iteration, trace_k)
    from initbounds.sim.training import load_dataset, mlp, train

    d = load_dataset("digits", seed=0)
    x, y = torch.cat([d.x_train, d.x_test]), torch.cat([d.y_train, d.y_test])
    net = mlp(64, 64, 2, 10, generator=torch.Generator().manual_seed(0))
    fm = FlatModel(net)
    out: dict = {"n": len(y), "params": fm.params, "threads": torch.get_num_threads()}
    print(f"== noise (issue 14): N = {len(y)} digits, MLP 64-64-64-10, q = {fm.params}, float64, "
          f"{torch.get_num_threads()} torch threads")
    per_example_grads(fm, x[:64], y[:64])                     # warm-up (torch.func's first call)
    tv = _best(lambda: trace_k(per_example_grads(fm, x, y)), reps=3)
    tl = _best(lambda: trace_k(per_example_grads_loop(fm, x, y)), reps=1)
    tk = _best(lambda: gradient_covariance(per_example_grads(fm, x, y), 3).top, reps=1)
    tkd = _best(lambda: gradient_covariance(per_example_grads(fm, x, y), 3, method="dense").top, reps=1)
    a = trace_k(per_example_grads(fm, x, y))
    b = trace_k(per_example_grads_loop(fm, x, y))
    out["trace_k"] = {"vmap_s": tv, "loop_s": tl, "speedup": tl / tv, "trace_k": a, "rel_diff": abs(a - b) / abs(b)}
    out["lambda_k"] = {"lanczos_s": tk, "dense_gram_s": tkd}
    print(f"per-example Tr K: vmap {tv:.3f} s, loop {tl:.3f} s, speedup {tl / tv:.1f}× (target ≥ 20×); "
          f"Tr K = {a:.6g}, |vmap − loop|/loop = {abs(a - b) / abs(b):.1e}")
    print(f"top-3 λ_K (with the gradients): Lanczos on the implicit Gram operator {tk:.2f} s, dense "
          f"{len(y)}×{len(y)} Gram eigvalsh {tkd:.2f} s")
    out["lambda_h"] = {}
    for label in ("init", "after 200 SGD steps"):
        if label != "init":
            train(net, d, steps=200, lr=0.1, batch=32, seed=0)
            fm = FlatModel(net)
        ref = hessian_top(fm, x, y, 1, stream=Stream(0, "bench/ref"), tol=1e-12).values[0]
        t0 = time.perf_counter()
        lz = hessian_top(fm, x, y, 1, stream=Stream(0, "bench/lanczos"), tol=1e-6)
        t_lz = time.perf_counter() - t0
        from scipy.sparse.linalg import LinearOperator, eigsh

        from initbounds.sim.noise import hvp_operator

        mv, _ = hvp_operator(fm, x, y)
        lm = float(eigsh(LinearOperator((fm.params,) * 2, matvec=mv, dtype=np.float64), k=1, which="LM", tol=1e-12,
                         v0=Stream(0, "bench/lm").numpy().standard_normal(fm.params))[0][0])
        t0 = time.perf_counter()
        pw = power_iteration(fm, x, y, stream=Stream(0, "bench/power"), reference=lm, rtol=1e-6, max_iter=5000)
        t_pw = time.perf_counter() - t0
        row = {"lambda_h1": ref, "largest_magnitude": lm, "lanczos_hvps": lz.hvps, "lanczos_s": t_lz,
               "lanczos_rel_err": abs(lz.values[0] - ref) / abs(ref), "power_hvps": pw["hvps"], "power_s": t_pw,
               "power_converged": pw["converged"], "power_value": pw["value"]}
        out["lambda_h"][label] = row
        print(f"λ_H¹ {label}: {ref:.8g} (largest magnitude {lm:.8g}); Lanczos {lz.hvps} HVPs, {t_lz:.2f} s, "
              f"rel. err {row['lanczos_rel_err']:.1e}; power iteration "
              f"{pw['hvps']} HVPs, {t_pw:.2f} s, {'converged' if pw['converged'] else 'NOT converged'} to "
              f"{pw['value']:.8g} ({'= λ_H¹' if abs(lm - ref) <= 1e-6 * abs(ref) else 'the largest magnitude, not λ_H¹'})")
    base = ("import torch; from initbounds.sim.training import load_dataset, mlp; from initbounds.sim import noise; "
            "d = load_dataset('digits', seed=0); x = torch.cat([d.x_train, d.x_test]); y = torch.cat([d.y_train, d.y_test]); "
            "net = mlp(64, 64, 2, 10, generator=torch.Generator().manual_seed(0))")
    idle = _peak_rss_mib(base)
    full = _peak_rss_mib(base + "; noise.measure_noise(net, x, y, k=3, probes=30, stream=noise.Stream(0, 'bench'))")
    out["memory"] = {"baseline_mib": idle, "measure_noise_mib": full, "extra_mib": full - idle,
                     "budget_mib": MEMORY_BUDGET / 2**20, "gradient_matrix_mib": 8 * len(y) * fm.params / 2**20}
    print(f"memory, measure_noise on N = {len(y)}: peak RSS {full:.0f} MiB vs {idle:.0f} MiB without "
          f"(+{full - idle:.0f} MiB; the N×q gradient matrix alone is {8 * len(y) * fm.params / 2**20:.0f} MiB); "
          f"budget {MEMORY_BUDGET / 2**20:.0f} MiB above the baseline: {'within' if full - idle <= MEMORY_BUDGET / 2**20 else 'OVER'}")
    return out


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", metavar="REV", help="also run part 4 on this git revision")
    ap.add_argument("--cases-only", action="store_true", help="run part 4 only (keeps the other results)")
    ap.add_argument("--refine", action="store_true", help="run refine_bench only (issue 13; prints, writes nothing)")
    ap.add_argument("--noise", action="store_true", help="run the SGD-noise benchmark (issue 14) alone; prints only")
    opts = ap.parse_args()
    if opts.refine:
        print("== initbounds refine (issue 13)")
        refine_bench()
    if opts.noise:
        noise_bench()
        return
    if opts.cases_only:
        path = HERE / "results.json"
        out = json.loads(path.read_text()) if path.exists() else {}
        print("== issue 11 cases (cold, limit %.0f s)" % CASE_LIMIT)
        out["issue11_cases"] = {"baseline": opts.baseline, "rows": issue_cases(opts.baseline)}
        path.write_text(json.dumps(out, indent=2) + "\n")
        print(f"\nwrote {path}")
        return
    import torch

    from initbounds.sim.core import Stream
    from initbounds.sim.engine import choose_path, sample_inputs, sample_networks

    out: dict = {"machine": {"python": platform.python_version(), "torch": torch.__version__,
                             "cpus": os.cpu_count(), "threads": torch.get_num_threads(),
                             "platform": platform.platform()}}
    print("== machine limits")
    lim = machine_limits(torch)
    out["limits"] = lim
    for k, v in lim.items():
        print(f"{k}: torch.randn {v['randn_per_s'] / 1e6:7.1f} M/s; 2048² matmul {v['matmul_gflops']:6.1f} GFLOP/s")

    print("\n== simulators (float32, fan-in He; same networks per config)")
    out["simulators"] = []
    ratios: dict = {}
    for n, L, N, T in CONFIGS:
        x = sample_inputs(n, N, correlation=0.5, stream=Stream(0, "bench/inputs"), dtype=torch.float32)
        widths = [n] * L
        t_naive = _best(lambda: naive_loop(torch, n, L, N, T, x), reps=1)
        g = Stream(2, "bench/networks")
        t_real = _best(lambda: sample_networks(widths, x, T, fan="in", stream=g, dtype=torch.float32,
                                               path="real"), reps=2)
        fast = choose_path(widths, N, grads=False, input_dim=n)
        t_fast = _best(lambda: sample_networks(widths, x, T, fan="in", stream=g, dtype=torch.float32,
                                               path=fast), reps=2)
        t_gram = t_fast if fast == "gram" else _best(
            lambda: sample_networks(widths, x, T, fan="in", stream=g, dtype=torch.float32, path="gram"), reps=2)
        rnd = T * L * n * n
        flops = T * L * 2 * n * n * N
        row = {
            "width": n, "depth": L, "inputs": N, "networks": T,
            "naive_s": t_naive, "batched_real_s": t_real, "reduced_s": t_fast, "reduced_path": fast,
            "gram_s": t_gram,
            "naive_rng_fraction": rnd / t_naive / lim["float32"]["randn_per_s"],
            "batched_rng_fraction": rnd / t_real / lim["float32"]["randn_per_s"],
            "batched_flop_fraction": flops / t_real / (lim["float32"]["matmul_gflops"] * 1e9),
        }
        out["simulators"].append(row)
        key = f"{n}x{L}x{N}"
        ratios[f"batched_over_naive_{key}"] = t_naive / t_real
        ratios[f"reduced_over_naive_{key}"] = t_naive / t_fast
        ratios[f"reduced_over_batched_{key}"] = t_real / t_fast
        ratios[f"gram_over_naive_{key}"] = t_naive / t_gram
        ratios[f"gram_over_batched_{key}"] = t_real / t_gram
        ratios[f"batched_rng_fraction_{key}"] = row["batched_rng_fraction"]
        print(f"({n}, {L}, {N}) × {T} nets: naive {t_naive:7.3f} s ({T / t_naive:9.1f} nets/s, "
              f"{100 * row['naive_rng_fraction']:3.0f}% of randn) | batched real {t_real:7.3f} s "
              f"({T / t_real:9.1f} nets/s, {100 * row['batched_rng_fraction']:3.0f}% of randn, "
              f"{100 * row['batched_flop_fraction']:3.0f}% of matmul) | {fast} {t_fast:7.4f} s "
              f"({T / t_fast:10.1f} nets/s)")
        print(f"    speed-ups: batched/naive {t_naive / t_real:6.1f}×, {fast}/naive "
              f"{t_naive / t_fast:8.1f}×, {fast}/batched {t_real / t_fast:7.1f}×; gram/naive "
              f"{t_naive / t_gram:8.1f}×, gram/batched {t_real / t_gram:7.1f}×")
    out["ratios"] = ratios

    print("\n== bounds commands")
    h = _cold(["--help"])
    w = _cold(["width", "--depth", "10", "--samples", "100", "--delta", "0.05", "--eps", "0.3"])
    out["cold_start_s"] = {"help": h, "width_L10": w}
    print(f"initbounds --help (cold): {h:.3f} s; initbounds width L=10 (cold, four methods): {w:.3f} s")
    from initbounds.bounds.width import METHODS, min_width

    out["width_methods"] = {}
    for m in METHODS:
        t = time.perf_counter()
        r = min_width(m, 100, 10**6, 1e-3, 0.1)
        dt = time.perf_counter() - t
        out["width_methods"][m] = {"seconds": dt, "min_width": r.min_width}
        print(f"  {m:20s} {r.min_width:>14,d}  {dt:7.3f} s   (L=100, N=10^6, δ=1e-3, ε=0.1)")
    t = time.perf_counter()
    subprocess.run([_exe(), "validate", "--json"], check=True, capture_output=True)
    out["validate_default_s"] = time.perf_counter() - t
    print(f"initbounds validate (defaults): {out['validate_default_s']:.1f} s")

    print("\n== issue 11 cases (cold, limit %.0f s)" % CASE_LIMIT)
    out["issue11_cases"] = {"baseline": opts.baseline, "rows": issue_cases(opts.baseline)}

    (HERE / "results.json").write_text(json.dumps(out, indent=2) + "\n")
    print(f"\nwrote {HERE / 'results.json'}")


if __name__ == "__main__":
    main()
