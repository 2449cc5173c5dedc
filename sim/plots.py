"""Figures for ``initbounds validate --plot`` (matplotlib, headless)."""
from __future__ import annotations

__all__ = ["plot_validation"]


def plot_validation(results, path: str) -> None:
    """Theory against simulation for every claim, and each width method's simulated failure vs δ.

    Left: each claim's simulated estimate with its confidence interval, centred on the theory
    value and scaled by the interval's half-width (inside ±1 means the theory is covered).
    Right: for the width claims, the simulated probability that some input leaves the band at
    the method's width (with its interval) against the target δ, over the width.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.8))
    ident = [r for r in results if r.kind in ("identity", "approximation") and not r.name.endswith("_ks")]
    for i, r in enumerate(ident):
        half = max((r.ci[1] - r.ci[0]) / 2.0, 1e-300)
        centre = (r.ci[0] + r.ci[1]) / 2.0
        z = (r.theory - centre) / half
        color = {"pass": "tab:green", "FAIL": "tab:red", "gap": "tab:cyan"}.get(r.verdict, "k")
        ax1.errorbar([i], [0.0], yerr=[[1.0], [1.0]], fmt="o", color=color, capsize=4)
        ax1.plot([i], [z], "kx", ms=9)
    ax1.axhline(0.0, color="grey", lw=0.5)
    ax1.set_xticks(range(len(ident)))
    ax1.set_xticklabels([r.name for r in ident], rotation=30, ha="right", fontsize=8)
    ax1.set_ylabel("theory − simulated centre (in CI half-widths)")
    ax1.set_title("identities: CI (bar) vs theory (×)")
    widths = [r for r in results if r.name.startswith("width_")]
    palette = ["tab:orange", "tab:blue", "tab:purple", "tab:green"]
    for j, r in enumerate(widths):
        n = int(r.detail.split()[1].rstrip(":"))
        color = "tab:red" if r.verdict == "FAIL" else palette[j % len(palette)]
        lo_err = max(r.estimate - r.ci[0], 0.0)
        hi_err = max(r.ci[1] - r.estimate, 0.0)
        ax2.errorbar([n], [max(r.estimate, 1e-4)], yerr=[[min(lo_err, max(r.estimate, 1e-4) - 1e-4)], [hi_err]],
                     fmt="o", color=color, capsize=4, label=f"{r.name[6:]} ({r.verdict})")
    if widths:
        ax2.axhline(widths[0].theory, color="k", ls="--", lw=1, label=f"δ = {widths[0].theory:g}")
        ax2.set_xscale("log")
        ax2.set_yscale("log")
        ax2.set_ylim(1e-4, 1.0)
        ax2.legend(fontsize=8)
    ax2.set_xlabel("width given by the method")
    ax2.set_ylabel("simulated P(some input leaves the band)")
    ax2.set_title("width methods vs simulation")
    fig.tight_layout()
    fig.savefig(path, dpi=120 if path.lower().endswith(".png") else None)
    plt.close(fig)
