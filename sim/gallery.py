"""``initbounds figures``: every figure the README shows, regenerated from fixed seeds, and its gallery page.

Each entry of :data:`GALLERY` names a figure, the function that draws it and one sentence on what to
look at; :func:`build_gallery` writes them all to one folder and ``docs/figures.md`` lists them.
``scale`` multiplies every simulation's size (1: the README's figures; the test suite uses a small
value, which changes the noise, not the design).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

__all__ = ["GALLERY", "GalleryFigure", "build_gallery", "gallery_markdown"]


@dataclass(frozen=True)
class GalleryFigure:
    stem: str
    title: str
    look_at: str           # one sentence: what the reader should look at


GALLERY = (
    GalleryFigure("gh21_sigma_vs_s", "GH21: the weight scale σ_s that preserves E‖h‖^s",
                  "the simulated σ̂_s (points, 95% intervals) sit on the exact curves for every width d, and σ_s "
                  "falls to He's √(2/d) at s = 2."),
    GalleryFigure("gh21_slope", "GH21: σ_s² − 2/d against the width",
                  "the exact gap to He decays like 1/d² (fitted slope −2), as the sympy series 5(2−s)/(2d²) says."),
    GalleryFigure("gh21_lognorm_density", "GH21: the log-norm after 100 layers, He against s = 1",
                  "He's distribution is centred near −2 while σ_s (s = 1) centres it near −1: the mean log-norm "
                  "drifts less; histograms are simulated networks, lines the CLT law."),
    GalleryFigure("gh21_moment_blowup", "GH21: moments above s explode, below s vanish",
                  "the theory is convex with zeros at 0 and s; beyond the shaded order the sample mean of this "
                  "many networks cannot see the heavy tail and falls below the theory — a sampling limit, "
                  "not a failure of the formula."),
    GalleryFigure("regions_sweep", "HR19: activation regions against neurons and depth",
                  "#regions − 1 grows like N^dim (fitted exponents near 1 on a segment, 2 on a plane) and the "
                  "count does not grow with depth at a fixed number of neurons."),
    GalleryFigure("length_density", "HR18: the exact law of the activation length",
                  "the exact density (black) matches the simulated histogram, the log-normal approximation "
                  "(red) misses its left tail; the title's P(off by > 2×) is the number `variance` prints."),
    GalleryFigure("residual_growth", "HR18: residual nets, three branch schedules",
                  "with a constant branch scale the mean length grows without bound (Σ η_b² = ∞), with η/√b "
                  "and η/b it stays bounded; simulated points with intervals lie on the exact curves."),
    GalleryFigure("gradient_law", "AB19 (ii): the weight-gradient norms follow the exact law",
                  "for every layer l the histogram of ‖∂ℓ/∂W_l‖²/(‖δ_L‖²‖x‖²) from autograd on real networks "
                  "matches the exact law of B·ρ_1⋯ρ_{L−1}."),
    GalleryFigure("validate", "validate: every claim on a scale where a miss is visible",
                  "identities as relative errors with intervals crossing 0, KS distances below their critical "
                  "value, and the width methods' simulated failure against δ (the authors' formula above it)."),
)


def _gh21(out, fmt, seed, scale, progress):
    from .moments import figures_gh21

    return figures_gh21(out, seed=seed, trials=max(500, int(20000 * scale)), fmt=fmt)


def _regions(out, fmt, seed, scale, progress):
    from .regions import figures_regions

    return figures_regions(out, seed=seed, trials=max(20, int(400 * scale)), fmt=fmt)


def _length(out, fmt, seed, scale, progress):
    from ..bounds.variance import length_law, p_length_off_by
    from .plots import figure_name, plot_length_density
    from .variance import sample_length_ratios

    widths = [32] * 8
    law = length_law(widths)
    sim = sample_length_ratios(widths, max(500, int(20000 * scale)), weight_var=2.0, seed=seed, device="cpu",
                               path="auto")
    off = p_length_off_by(widths, law=law)
    path = str(Path(out) / figure_name("length_density", fmt))
    plot_length_density(law, path, sim=sim, seed=seed, p_off=off, title="8 layers of width 32 (β = 0.25)")
    return [path]


def _residual(out, fmt, seed, scale, progress):
    from .core import Stream
    from .plots import figure_name, plot_residual_growth
    from .resnet import sample_residual

    B, n, m, eta = 100, 16, 16, 0.5
    T = max(200, int(2000 * scale))
    sims = {sc: sample_residual(B, n, m, eta, T, schedule=sc, stream=Stream(seed, f"gallery/resnet/{sc}"))
            for sc in ("const", "invsqrt", "inv")}
    path = str(Path(out) / figure_name("residual_growth", fmt))
    plot_residual_growth(B, n, m, eta, path, sim=sims, seed=seed)
    return [path]


def _gradient(out, fmt, seed, scale, progress):
    import numpy as np

    from ..bounds.band import product_law
    from .core import Stream
    from .plots import caption, figure_name, histogram_bins, new_figure, save_figure, style
    from .width import _gradient_cdf, sample_gradient_ratios

    n, L = 16, 4
    T = max(1000, int(20000 * scale))
    G = sample_gradient_ratios([n] * L, T, stream=Stream(seed, "gallery/gradient_law"))
    x, f = product_law([n] * (L - 1)).density()
    with style():
        fig, ax = new_figure(width=7.0, height=4.6)
        for l in range(L):
            g = G[:, l]
            g = g[g > 0]
            ax.hist(np.log(g), bins=histogram_bins(len(g)), density=True, histtype="step", lw=1.2,
                    label=f"autograd, layer {l + 1}")
        ax.plot(x, f, "k-", lw=2, label="exact law of B·ρ_1⋯ρ_{L−1} (given > 0)")
        ax.set_xlabel("log G_l,  G_l = ‖∂ℓ/∂W_l‖²_F / (‖δ_L‖² ‖x‖²)")
        ax.set_ylabel("probability density (given G_l > 0)")
        ax.set_title(f"Weight-gradient norms at init: {L} ReLU layers of width {n}, He, one input")
        ax.legend()
        caption(fig, f"{T:,} real networks differentiated by torch.autograd, seed {seed}; P(G_l = 0) = "
                     f"{float(_gradient_cdf(n, L)(0.0)[0]):.2e} exactly")
        path = str(Path(out) / figure_name("gradient_law", fmt))
        save_figure(fig, path)
    return [path]


def _validate(out, fmt, seed, scale, progress):
    from .plots import figure_name, plot_validation
    from .validate import run_claims

    names = ["rho_mean", "rho_var", "rho_cdf_ks", "p_stay", "p_last", "width_authors_formula",
             "width_chernoff_per_layer", "width_chernoff_product", "width_exact_union", "gradient_law",
             "gradient_second_moment"]
    results = run_claims(names, seed=seed, trials=None if scale >= 1 else 2000)
    path = str(Path(out) / figure_name("validate", fmt))
    plot_validation(results, path, seed=seed)
    return [path]


_DRAW: dict[str, Callable] = {"gh21": _gh21, "regions": _regions, "length": _length, "residual": _residual,
                              "gradient": _gradient, "validate": _validate}


def build_gallery(out: str, *, seed: int = 0, scale: float = 1.0, fmt: str = "png", progress=None) -> list:
    """Draw every gallery figure into ``out`` (created) and return the paths written.
    ``progress(done, total)`` is called after each group of figures."""
    Path(out).mkdir(parents=True, exist_ok=True)
    paths = []
    for k, draw in enumerate(_DRAW.values()):
        paths += draw(out, fmt, seed, scale, progress)
        if progress:
            progress(k + 1, len(_DRAW))
    return paths


def gallery_markdown(folder: str = "figures", fmt: str = "png") -> str:
    """docs/figures.md: each figure with its one sentence on what to look at."""
    lines = ["# Figure gallery", "",
             "Every figure below is regenerated from fixed seeds by `initbounds figures --out docs/figures` "
             "(see docs/figures.md's source: `initbounds.sim.gallery.GALLERY`). Lines are theory, points "
             "or histograms are simulation; each caption line gives the design and the seed.", ""]
    for g in GALLERY:
        lines += [f"## {g.title}", "", f"![{g.title}]({folder}/{g.stem}.{fmt})", "", f"What to look at: {g.look_at}", ""]
    return "\n".join(lines)
