"""Figures (matplotlib's object-oriented API: every function builds a ``matplotlib.figure.Figure``
without pyplot, returns it, and writes a file only when given a path; the user's backend and rc
settings are never changed)."""
from __future__ import annotations

__all__ = ["plot_validation", "plot_length_density", "plot_residual_growth", "plot_sweep", "curve_points", "headless_pyplot",
           "FIGURE_FORMATS", "figure_name", "new_figure", "save_figure", "caption", "style", "histogram_bins"]

#: The file formats every figure may be written in (the same rule as every --plot: commands._options.PLOT_SUFFIXES).
FIGURE_FORMATS = ("png", "svg", "pdf")


def figure_name(stem: str, fmt: str) -> str:
    """``stem.fmt`` for one of :data:`FIGURE_FORMATS` (DomainError naming ``fmt`` otherwise).

    >>> figure_name("regions_sweep", "svg")
    'regions_sweep.svg'
    """
    from ..bounds.errors import check_choice

    return f"{stem}.{check_choice('fmt', fmt, FIGURE_FORMATS)}"


#: The one style of every figure (applied in a local rc_context: the user's matplotlib settings and
#: backend are never changed): fonts readable at the width the README embeds (about 700 px).
STYLE = {"font.size": 10, "axes.titlesize": 10.5, "axes.labelsize": 10, "legend.fontsize": 8.5,
         "xtick.labelsize": 8.5, "ytick.labelsize": 8.5, "axes.grid": True, "grid.alpha": 0.25}
#: Colours of the verdicts (explained in each figure's legend).
VERDICT_COLORS = {"pass": "tab:green", "FAIL": "tab:red", "violated": "tab:orange", "gap": "tab:gray"}


def style():
    """A context in which figures are drawn with :data:`STYLE` (matplotlib.rc_context)."""
    import matplotlib

    return matplotlib.rc_context(STYLE)


def new_figure(ncols: int = 1, nrows: int = 1, *, width: float = 6.4, height: float = 4.4):
    """(fig, axes): a :class:`matplotlib.figure.Figure` built without pyplot (no global state, no
    backend switch), with a constrained layout; ``width``/``height`` per panel in inches."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    return fig, fig.subplots(nrows, ncols, squeeze=True)


def caption(fig, text: str) -> None:
    """The design and the seed, in small grey type under the panels."""
    fig.get_layout_engine().set(rect=(0.0, 0.045, 1.0, 0.955))
    fig.text(0.005, 0.005, text, fontsize=7.5, color="0.35", ha="left", va="bottom", wrap=True)


def save_figure(fig, path: str | None) -> None:
    """Write ``fig`` to ``path`` (format from the suffix: png, svg or pdf) when a path is given."""
    if path:
        fig.savefig(path, dpi=150 if str(path).lower().endswith(".png") else None)


def _ks_like(r) -> bool:
    """A claim whose theory is 0 and whose interval is [0, critical distance] (a KS test)."""
    return r.theory == 0.0 and r.ci[0] == 0.0 and r.ci[1] > 0.0 and "KS" in r.detail


def plot_validation(results, path: str | None = None, *, seed: int | None = None):
    """Every claim's estimate against its theory, on scales where a miss is visible; returns the Figure.

    Left: identities and approximations with a nonzero theory value: the relative error
    (estimate − theory)/|theory| with the claim's confidence interval (symmetric-log axis); the
    theory is covered where the bar crosses 0. Middle: Kolmogorov–Smirnov claims: the distance
    divided by its critical distance (a miss is a point above 1). Right: the width methods'
    simulated failure probability with its interval against δ (an estimate of 0 is drawn as the
    interval's upper end, marked ▽). Colours: the verdicts (legend).
    """
    import numpy as np
    from matplotlib.lines import Line2D

    with style():
        fig, (ax1, ax2, ax3) = new_figure(3, width=5.2, height=4.8)
        rel = [r for r in results if not _ks_like(r) and not r.name.startswith("width_") and r.theory != 0.0
               and np.isfinite(r.theory)]
        ks = [r for r in results if _ks_like(r)]
        widths = [r for r in results if r.name.startswith("width_")]
        for i, r in enumerate(rel):
            t = abs(r.theory)
            e, lo, hi = (r.estimate - r.theory) / t, (r.ci[0] - r.theory) / t, (r.ci[1] - r.theory) / t
            c = VERDICT_COLORS.get(r.verdict, "k")
            ax1.errorbar([e], [i], xerr=[[max(e - lo, 0.0)], [max(hi - e, 0.0)]], fmt="o", color=c, capsize=3, ms=4)
        ax1.axvline(0.0, color="k", lw=0.8)
        ax1.set_xscale("symlog", linthresh=1e-3)
        ax1.set_yticks(range(len(rel)), [r.name for r in rel], fontsize=7)
        ax1.invert_yaxis()
        ax1.set_xlabel("(estimate − theory) / |theory|, with the claim's interval")
        ax1.set_title("identities and approximations")
        for i, r in enumerate(ks):
            d = r.estimate / r.ci[1]
            ax2.plot([d], [i], "o", color=VERDICT_COLORS.get(r.verdict, "k"), ms=5)
        ax2.axvline(1.0, color="tab:red", ls="--", lw=1)
        ax2.set_xlim(0.0, max([1.3] + [r.estimate / r.ci[1] * 1.1 for r in ks]))
        ax2.set_yticks(range(len(ks)), [r.name for r in ks], fontsize=7)
        ax2.invert_yaxis()
        ax2.set_xlabel("KS distance / critical distance (a miss: > 1)")
        ax2.set_title("laws (Kolmogorov–Smirnov)")
        floor = 1e-5
        for r in widths:
            n = int(r.detail.split()[1].rstrip(":"))
            c = VERDICT_COLORS.get(r.verdict, "k")
            if r.estimate > 0:
                ax3.errorbar([n], [r.estimate], yerr=[[r.estimate - max(r.ci[0], floor)], [r.ci[1] - r.estimate]],
                             fmt="o", color=c, capsize=3)
            else:
                ax3.plot([n], [r.ci[1]], "v", color=c, ms=7)       # 0 observed: only the upper end is informative
            ax3.annotate(r.name[6:], (n, max(r.estimate, r.ci[1] if r.estimate <= 0 else r.estimate)),
                         textcoords="offset points", xytext=(5, 4), fontsize=7)
        if widths:
            for d in sorted({r.theory for r in widths}):
                ax3.axhline(d, color="k", ls="--", lw=1)
                ax3.annotate(f"δ = {d:g}", (0.01, d), xycoords=("axes fraction", "data"), ha="left", va="bottom",
                             fontsize=8)
            ax3.set_xscale("log")
            ax3.set_yscale("log")
            ax3.set_ylim(floor, 1.0)
            from matplotlib.ticker import NullFormatter

            ax3.xaxis.set_minor_formatter(NullFormatter())      # (minor labels collided: "3×10²4×10²")
        ax3.set_xlabel("width given by the method")
        ax3.set_ylabel("simulated P(failure), with interval")
        ax3.set_title("width methods: simulated failure vs δ")
        handles = [Line2D([], [], marker="o", ls="", color=c, label=v) for v, c in VERDICT_COLORS.items()]
        fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), title="verdict", fontsize=8)
        if seed is not None:
            caption(fig, f"initbounds validate, seed {seed}: {len(results)} claims")
        save_figure(fig, path)
    return fig


def headless_pyplot():
    """matplotlib.pyplot on the file-only Agg backend. Deprecated: figures are built with
    :func:`new_figure` (no pyplot state); kept for code that has not moved yet."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def histogram_bins(n: int) -> int:
    """Bins for a density histogram of n values: the Freedman–Diaconis count for a Gaussian,
    about (n^{1/3})·2, between 10 and 60 (more only adds noise).

    >>> histogram_bins(100), histogram_bins(20000), histogram_bins(10**7)
    (10, 54, 60)
    """
    return int(min(60, max(10, round(2.0 * n ** (1.0 / 3.0)))))


def plot_length_density(law, path: str | None = None, *, sim=None, title: str = "", p_off=None, seed=None):
    """The exact density of log(M_d/M_0) given alive (``law``: a bounds.variance.LengthLaw), with
    the leading-order log-normal and, if given, a histogram of simulated M_d/M_0 (``sim``).
    ``p_off``: the report's {"p", "tolerance"} for P(off by > 2×) (the same number as the table);
    returns the Figure."""
    import numpy as np

    x, f = law.log_density()
    keep = f > f.max() * 1e-4
    with style():
        fig, ax = new_figure(width=7.0, height=4.6)
        if sim is not None and np.any(np.asarray(sim) > 0):       # (every simulated net dead: no histogram, issue 11)
            alive = np.asarray(sim)[np.asarray(sim) > 0]
            ax.hist(np.log(alive), bins=histogram_bins(len(alive)), density=True, alpha=0.35, color="tab:blue",
                    label=f"simulated ({len(sim):,} networks, {len(sim) - len(alive)} dead)")
        ax.plot(x[keep], f[keep], "k-", lw=1.5, label="exact law (given alive)")
        from ..bounds.variance import length_moments

        lm = length_moments(list(law.widths))        # He: lognormal = (−5β/2, 5β); c_j shift the mean
        mu, v = lm.lognormal[0] + law.log_shift, lm.lognormal[1]
        xs = x[keep]
        ax.plot(xs, np.exp(-(xs - mu) ** 2 / (2 * v)) / np.sqrt(2 * np.pi * v), "r--", lw=1,
                label="log-normal N(−5β/2, 5β)")
        for k, r in enumerate((0.5, 2.0)):
            ax.axvline(np.log(r), color="grey", lw=0.8, ls=":", label="± log 2: M_d off by 2×" if k == 0 else None)
        ax.set_xlabel("log(M_d / M_0)   (M = ‖h‖²/width)")
        ax.set_ylabel("probability density (given alive)")
        p = p_off if p_off is not None else {"p": law.p_off_by(2.0), "tolerance": law.tolerance}
        from ..bounds.report import fmt_pm

        ax.set_title(f"Exact law of the activation length, {title}\nP(M_d off by > 2×) = {fmt_pm(p['p'], p['tolerance'])}, "
                     f"P(dead) = {law.p_dead:.3g}")
        ax.legend()
        if seed is not None:
            caption(fig, f"exact law on a grid (CDF tolerance {law.tolerance:.1e}); simulation seed {seed}")
        save_figure(fig, path)
    return fig


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


def plot_residual_growth(blocks: int, width: int, branch_width: int, eta: float, path: str | None = None, *,
                         sim: dict | None = None, seed: int | None = None, level: float = 0.95):
    """log10 E‖x_b‖²/‖x_0‖² and log10 of the normalized second moment against b (log axis) for
    the three schedules (exact curves at :data:`CURVE_POINTS` log-spaced blocks); with ``sim``
    ({schedule: (T, B) array of ‖x_b‖²/‖x_0‖², e.g. from :func:`sim.resnet.sample_residual`}),
    simulated points with ``level`` intervals (mean: normal interval; normalized second moment:
    percentile bootstrap). Returns the Figure.

    Both curves are plotted from their logs (issue 11: at 10^6 blocks and η = 1 the normalized
    second moment overflows a double, and matplotlib's autoscaling warned "overflow in scalar add")."""
    import numpy as np

    from ..bounds.resnet import residual_growth
    from . import stats

    with style():
        fig, (a1, a2) = new_figure(2, width=5.6, height=4.4)
        idx = curve_points(blocks)
        colors = {"const": "tab:blue", "invsqrt": "tab:orange", "inv": "tab:green"}
        for sc, lab in (("const", "η_b = η"), ("invsqrt", "η_b = η/√b"), ("inv", "η_b = η/b")):
            g = residual_growth(blocks, width, branch_width, eta, schedule=sc)
            c = colors[sc]
            a1.plot(g["blocks"][idx], g["log_mean"][idx] / np.log(10), color=c, label=f"{lab} (exact)")
            a2.plot(g["blocks"][idx], g["log_normalized_second"][idx] / np.log(10), color=c, label=f"{lab} (exact)")
            if sim is not None and sc in sim:
                r = np.asarray(sim[sc])
                pts = curve_points(r.shape[1], 12)
                rng = np.random.default_rng(0 if seed is None else seed)
                for k, b in enumerate(pts):
                    col = r[:, b]
                    m, lo, hi = stats.mean_ci(col, level)
                    y = np.log10(m)
                    a1.errorbar([b + 1], [y], yerr=[[y - np.log10(max(lo, 1e-300))], [np.log10(hi) - y]], fmt="o",
                                color=c, ms=3.5, capsize=2, label=f"{lab} (simulated, {level:.0%} CI)" if k == 0 else None)
                    boots = []
                    for _ in range(200):
                        smp = col[rng.integers(0, len(col), len(col))]
                        boots.append(np.mean(smp**2) / np.mean(smp) ** 2)
                    z = np.log10(np.mean(col**2) / np.mean(col) ** 2)
                    bl, bh = np.log10(np.quantile(boots, [(1 - level) / 2, (1 + level) / 2]))
                    a2.errorbar([b + 1], [z], yerr=[[max(z - bl, 0.0)], [max(bh - z, 0.0)]], fmt="o", color=c, ms=3.5,
                                capsize=2, label=f"{lab} (simulated)" if k == 0 else None)
        a1.set_xlabel("block b")
        a1.set_ylabel("log10 E‖x_b‖²/‖x_0‖²")
        a1.set_title("FM1: mean length (bounded iff Σ η_b² < ∞)")
        a2.set_xlabel("block b")
        a2.set_ylabel("log10 E‖x_b‖⁴ / (E‖x_b‖²)²")
        a2.set_title("normalized second moment")
        for a in (a1, a2):
            a.set_xscale("log")
            a.legend(fontsize=7.5)
        fig.suptitle(f"Residual MLP: width n = {width}, branch width m = {branch_width}, η = {eta:g}")
        trials = next(iter(sim.values())).shape[0] if sim else 0
        caption(fig, f"lines: exact (bounds.resnet); points: {trials:,} simulated networks per schedule"
                     + (f", seed {seed}" if seed is not None else "") if sim else "lines: exact (bounds.resnet); no simulation")
        save_figure(fig, path)
    return fig


def plot_sweep(result, path: str | None = None):
    """The phase diagram of a sweep (:class:`sim.sweep.SweepResult`): the simulated failure
    probability over widths × depths (log₂ axes), each method's minimum width at δ as a curve over
    the depths, and a mark on every cell whose Clopper–Pearson interval lies wholly below δ (●)
    or wholly above it (×). Returns the Figure."""
    import math

    import matplotlib.colors as mcolors
    import numpy as np

    inp = result.inputs
    widths, depths = list(inp["widths"]), list(inp["depths"])
    freq = np.full((len(depths), len(widths)), np.nan)
    below, above = [], []
    for r in result.rows:
        i, j = depths.index(r["depth"]), widths.index(r["width"])
        freq[i, j] = r["frequency"]
        if r["ci_high"] <= inp["delta"]:
            below.append((r["width"], r["depth"]))
        elif r["ci_low"] > inp["delta"]:
            above.append((r["width"], r["depth"]))

    def edges(v):
        v = np.asarray(v, dtype=float)
        if len(v) == 1:
            return np.array([v[0] / math.sqrt(2), v[0] * math.sqrt(2)])
        mid = np.sqrt(v[:-1] * v[1:])
        return np.concatenate([[v[0] ** 2 / mid[0]], mid, [v[-1] ** 2 / mid[-1]]])

    with style():
        fig, ax = new_figure(width=7.2, height=5.2)
        xe, ye = edges(widths), edges(depths)
        mesh = ax.pcolormesh(xe, ye, freq, cmap="magma_r", norm=mcolors.Normalize(0.0, 1.0), shading="flat")
        fig.colorbar(mesh, ax=ax, label="simulated failure probability")
        lo_w, hi_w = xe[0], xe[-1]
        colors = {"authors_formula": "tab:gray", "chernoff_per_layer": "tab:blue", "chernoff_product": "tab:green",
                  "exact_union": "tab:cyan"}
        for m, ws in result.curves.items():
            pts = [(w, L) for w, L in zip(ws, depths) if w is not None]
            inside = any(lo_w <= w <= hi_w for w, _ in pts)
            ax.plot([p[0] for p in pts], [p[1] for p in pts], "-o", ms=3, lw=1.8, color=colors.get(m),
                    label=f"{m}" + ("" if inside else " (beyond the grid)"))
        if below:
            ax.plot(*zip(*below), "o", ms=4, mfc="white", mec="black", ls="none",
                    label=f"{int(inp['confidence'] * 100)}% CI below δ")
        if above:
            ax.plot(*zip(*above), "X", ms=6, mfc="white", mec="black", mew=0.6, ls="none",
                    label=f"{int(inp['confidence'] * 100)}% CI above δ")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log", base=2)
        ax.set_xlim(xe[0], xe[-1])
        ax.set_ylim(ye[0], ye[-1])
        ax.set_xlabel("width n (every layer)")
        ax.set_ylabel("depth L")
        ax.set_title(f"P(some of {inp['samples']:,} input{'s' if inp['samples'] > 1 else ''} leaves the ε = "
                     f"{inp['eps']:g} band), {inp['trials']:,} networks per cell", fontsize=10)
        ax.legend(fontsize=7.5, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncols=3, frameon=False,
                  title=f"curves: each method's minimum width at δ = {inp['delta']:g}", title_fontsize=7.5)
        caption(fig, f"He fan-out ReLU nets, zero bias, {inp['norm']} norm, {inp['layers']} layers; {inp['inputs']}; "
                     f"seed {inp['seed']}; marks: Clopper–Pearson intervals vs δ")
        save_figure(fig, path)
    return fig
