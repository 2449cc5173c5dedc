"""Figures (issue 17): the object-oriented API, labels and legends, formats, the gallery."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from matplotlib.figure import Figure

from initbounds.sim import plots


def _check_axes(fig: Figure) -> None:
    """Every panel has axis labels, and a legend wherever it draws more than one labelled series."""
    for ax in fig.axes:
        if not ax.get_visible() or ax.get_label() == "<colorbar>":
            continue
        assert ax.get_xlabel().strip(), ax.get_title()
        labelled = [h for h in ax.get_legend_handles_labels()[1] if not h.startswith("_")]
        if len(labelled) > 1:
            assert ax.get_legend() is not None, ax.get_title()


def test_length_density_is_an_oo_figure_with_labels(tmp_path):
    from initbounds.bounds.variance import length_law

    law = length_law([8, 8, 8])
    sim = np.random.default_rng(1).lognormal(-0.3, 0.5, 500)
    for fmt in ("png", "svg", "pdf"):
        fig = plots.plot_length_density(law, str(tmp_path / f"d.{fmt}"), sim=sim, p_off={"p": 0.5, "tolerance": 1e-6},
                                        seed=3)
        assert isinstance(fig, Figure) and (tmp_path / f"d.{fmt}").stat().st_size > 0
    _check_axes(fig)
    assert "0.500000 (± 1.0e-06)" in fig.axes[0].get_title()        # the table's number, not the grid's
    assert all(ax.get_ylabel() for ax in fig.axes)


def test_residual_growth_draws_simulation_with_intervals():
    from initbounds.sim.core import Stream
    from initbounds.sim.resnet import sample_residual

    sims = {sc: sample_residual(10, 4, 4, 0.5, 200, schedule=sc, stream=Stream(0, sc)) for sc in ("const", "inv")}
    fig = plots.plot_residual_growth(10, 4, 4, 0.5, None, sim=sims, seed=0)
    _check_axes(fig)
    assert any("simulated" in t for t in fig.axes[0].get_legend_handles_labels()[1])


def test_validation_plot_shows_each_kind_on_its_scale():
    from initbounds.sim.validate import run_claims

    res = run_claims(["rho_mean", "rho_cdf_ks", "width_exact_union", "width_authors_formula"], seed=0, trials=2000)
    fig = plots.plot_validation(res, None, seed=0)
    _check_axes(fig)
    left, mid, right = fig.axes[:3]
    assert [t.get_text() for t in left.get_yticklabels()] == ["rho_mean"]
    assert [t.get_text() for t in mid.get_yticklabels()] == ["rho_cdf_ks"]
    assert fig.legends and fig.legends[0].get_title().get_text() == "verdict"


def test_histogram_bins_follow_the_sample_size():
    assert plots.histogram_bins(10) == 10 and plots.histogram_bins(10**9) == 60
    assert plots.histogram_bins(1000) < plots.histogram_bins(100000)


def test_plotting_neither_imports_pyplot_nor_changes_rc():
    # (rcParams["backend"] and get_backend() would themselves import pyplot: read the raw entries)
    code = ("import matplotlib, sys; raw = lambda: {k: str(dict.__getitem__(matplotlib.rcParams, k)) "
            "for k in matplotlib.rcParams.keys()}; before = raw(); "
            "from initbounds.bounds.variance import length_law; from initbounds.sim import plots; "
            "plots.plot_length_density(length_law([4, 4]), None); "
            "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'; "
            "after = raw(); changed = [k for k in before if after[k] != before[k]]; "
            "assert not changed, changed")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_gallery_builds_every_figure(tmp_path, fmt):
    """`initbounds figures` at a small scale: every gallery entry is written, and docs/figures.md
    lists exactly the gallery (regenerate it with gallery_markdown())."""
    from pathlib import Path

    from initbounds.sim.gallery import GALLERY, build_gallery, gallery_markdown

    if fmt == "svg":        # the format rule only (one cheap group)
        from initbounds.sim.gallery import _length

        assert _length(str(tmp_path), "svg", 0, 0.02, None)[0].endswith("length_density.svg")
        return
    paths = build_gallery(str(tmp_path), seed=0, scale=0.02, fmt=fmt)
    assert sorted(Path(p).name for p in paths) == sorted(f"{g.stem}.{fmt}" for g in GALLERY)
    doc = Path(__file__).resolve().parents[2] / "docs" / "figures.md"
    assert doc.read_text() == gallery_markdown() + "\n"
