"""Figures for ``initbounds validate --plot`` (matplotlib, headless)."""
from __future__ import annotations

__all__ = ["plot_validation", "plot_length_density", "plot_residual_growth", "curve_points", "headless_pyplot",
           "FIGURE_FORMATS", "figure_name"]

#: The file formats every figure may be written in (the same rule as every --plot: commands._options.PLOT_SUFFIXES).
FIGURE_FORMATS = ("png", "svg", "pdf")


def figure_name(stem: str, fmt: str) -> str:
    """``stem.fmt`` for one of :data:`FIGURE_FORMATS` (DomainError naming ``fmt`` otherwise).

    >>> figure_name("regions_sweep", "svg")
    'regions_sweep.svg'
    """
    from ..bounds.errors import check_choice

    return f"{stem}.{check_choice('fmt', fmt, FIGURE_FORMATS)}"


def plot_validation(results, path: str) -> None:
    """Theory against simulation for every claim, and each width method's simulated failure vs δ.

    Left: each claim's simulated estimate with its confidence interval, centred on the theory
    value and scaled by the interval's half-width (inside ±1 means the theory is covered).
    Right: for the width claims, the simulated probability that some input leaves the band at
    the method's width (with its interval) against the target δ, over the width.
    """
    plt = headless_pyplot()
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


def headless_pyplot():
    """matplotlib.pyplot on the file-only Agg backend (every figure of the toolkit is a file)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_length_density(law, path: str, *, sim=None, title: str = "") -> None:
    """The exact density of log(M_d/M_0) given alive (``law``: a bounds.variance.LengthLaw),
    with the leading-order log-normal and, if given, a histogram of simulated M_d/M_0 (``sim``)."""
    import numpy as np

    plt = headless_pyplot()
    x, f = law.log_density()
    keep = f > f.max() * 1e-4
    fig, ax = plt.subplots(figsize=(7, 4.5))
    if sim is not None and np.any(np.asarray(sim) > 0):       # (every simulated net dead: no histogram, issue 11)
        alive = np.asarray(sim)[np.asarray(sim) > 0]
        ax.hist(np.log(alive), bins=80, density=True, alpha=0.35, color="tab:blue",
                label=f"simulated ({len(sim):,} networks, {len(sim) - len(alive)} dead)")
    ax.plot(x[keep], f[keep], "k-", lw=1.5, label=f"exact law (tolerance {law.tolerance:.0e})")
    from ..bounds.variance import length_moments

    lm = length_moments(list(law.widths))        # He: lognormal = (−5β/2, 5β); c_j shift the mean
    mu, v = lm.lognormal[0] + law.log_shift, lm.lognormal[1]
    xs = x[keep]
    ax.plot(xs, np.exp(-(xs - mu) ** 2 / (2 * v)) / np.sqrt(2 * np.pi * v), "r--", lw=1,
            label="log-normal N(−5β/2, 5β)")
    for r in (0.5, 2.0):
        ax.axvline(np.log(r), color="grey", lw=0.6, ls=":")
    ax.set_xlabel("log(M_d / M_0)")
    ax.set_ylabel("density (given alive)")
    ax.set_title(f"Exact law of the activation length, {title}\nP(M_d off by > 2×) = {law.p_off_by(2.0):.3g} (± {law.tolerance:.0e}), "
                 f"P(dead) = {law.p_dead:.3g}", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


#: Points per curve in :func:`plot_residual_growth` (log-spaced blocks: the x-axis is logarithmic).
CURVE_POINTS = 2000


def curve_points(blocks: int, points: int = CURVE_POINTS):
    """Indices 0..B−1 of about ``points`` log-spaced blocks, the first and the last included (the
    curves are cumulative sums, smooth in log b: these points draw them as the full arrays would).

    >>> curve_points(5).tolist(), curve_points(10**6)[[0, -1]].tolist()
    ([0, 1, 2, 3, 4], [0, 999999])
    """
    import numpy as np

    if blocks <= points:
        return np.arange(blocks)
    b = np.unique(np.round(np.geomspace(1, blocks, points)).astype(np.int64))
    return np.unique(np.concatenate(([1], b, [blocks]))) - 1


def plot_residual_growth(blocks: int, width: int, branch_width: int, eta: float, path: str) -> None:
    """log10 E‖x_b‖²/‖x_0‖² and log10 of the normalized second moment against b (log axis) for
    the three schedules, at :data:`CURVE_POINTS` log-spaced blocks.

    Both curves are plotted from their logs (issue 11: at 10^6 blocks and η = 1 the normalized
    second moment overflows a double, and matplotlib's autoscaling warned "overflow in scalar add")."""
    import numpy as np

    from ..bounds.resnet import residual_growth

    plt = headless_pyplot()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2))
    idx = curve_points(blocks)
    for sc, lab in (("const", "η_b = η"), ("invsqrt", "η_b = η/√b"), ("inv", "η_b = η/b")):
        g = residual_growth(blocks, width, branch_width, eta, schedule=sc)
        a1.plot(g["blocks"][idx], g["log_mean"][idx] / np.log(10), label=lab)
        a2.plot(g["blocks"][idx], g["log_normalized_second"][idx] / np.log(10), label=lab)
    a1.set_xlabel("block b")
    a1.set_ylabel("log10 E‖x_b‖²/‖x_0‖²")
    a1.set_title("FM1: mean length (bounded iff Σ η_b² < ∞)")
    a2.set_xlabel("block b")
    a2.set_ylabel("log10 E‖x_b‖⁴ / (E‖x_b‖²)²")
    a2.set_title("normalized second moment")
    for a in (a1, a2):
        a.set_xscale("log")
        a.legend(fontsize=8)
    fig.suptitle(f"Residual net n = {width}, m = {branch_width}, η = {eta:g} (exact)")
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
