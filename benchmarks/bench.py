"""Benchmarks for initbounds (prints figures; not a test). Run: `make bench`.

1. cold start of `initbounds width` against `initbounds --help` (fresh processes, median of 5);
2. time of each width method at L = 100, N = 10^6, δ = 1e-3, ε = 0.1;
3. simulation throughput (networks per second) at width 512, depth 20, 1 input, against the raw
   `torch.randn` rate on this machine.
Writes benchmarks/results.json beside this file.
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


def _cold(args, reps=5):
    exe = shutil.which("initbounds") or str(Path(sys.executable).with_name("initbounds"))
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        subprocess.run([exe, *args], check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    out: dict = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                             "platform": platform.platform()}}
    print("== cold start (median of 5 fresh processes)")
    h = _cold(["--help"])
    w = _cold(["width", "--depth", "10", "--samples", "100", "--delta", "0.05", "--eps", "0.3"])
    out["cold_start_s"] = {"help": h, "width_L10": w}
    print(f"initbounds --help : {h:.3f} s")
    print(f"initbounds width (L=10, N=100, δ=0.05, ε=0.3): {w:.3f} s")

    print("\n== width methods at L=100, N=10^6, δ=1e-3, ε=0.1")
    from bounds.width import METHODS, min_width

    out["width_methods"] = {}
    for m in METHODS:
        t = time.perf_counter()
        r = min_width(m, 100, 10**6, 1e-3, 0.1)
        dt = time.perf_counter() - t
        out["width_methods"][m] = {"seconds": dt, "min_width": r.min_width}
        print(f"{m:20s} {r.min_width:>14,d}  {dt:7.3f} s")

    print("\n== simulation throughput, width 512, depth 20, 1 input, fan-in He")
    import torch

    from sim.engine import sample_networks

    torch.manual_seed(0)  # benchmark only; the library never touches the global generator
    out["simulation"] = {}
    for dt_name, dt in (("float64", torch.float64), ("float32", torch.float32)):
        g = torch.Generator().manual_seed(0)
        buf = torch.empty(16, 512, 512, dtype=dt)
        torch.randn(buf.shape, generator=g, dtype=dt, out=buf)
        t = time.perf_counter()
        for _ in range(10):
            torch.randn(buf.shape, generator=g, dtype=dt, out=buf)
        rng_rate = 10 * buf.numel() / (time.perf_counter() - t)
        x = torch.ones(1, 512, dtype=dt)
        sample_networks([512] * 21, x, 20, fan="in", generator=g, dtype=dt)  # warm-up
        T = 400
        t = time.perf_counter()
        s = sample_networks([512] * 21, x, T, fan="in", generator=g, dtype=dt)
        sec = time.perf_counter() - t
        nets = T / sec
        frac = nets * 20 * 512 * 512 / rng_rate
        out["simulation"][dt_name] = {"networks_per_s": nets, "randn_per_s": rng_rate,
                                      "fraction_of_randn_limit": frac}
        print(f"{dt_name}: {nets:8.1f} networks/s; raw randn {rng_rate / 1e6:7.1f} M/s; "
              f"weight sampling at {100 * frac:.0f}% of the randn limit")
    (HERE / "results.json").write_text(json.dumps(out, indent=2) + "\n")
    print(f"\nwrote {HERE / 'results.json'}")


if __name__ == "__main__":
    main()
