"""initbounds: finite-width guarantees for deep ReLU network initialization, derived and checked.

Every number comes two ways: derived (closed forms and exact computations in
:mod:`initbounds.bounds`, free of torch) and checked (torch Monte Carlo of real networks in
:mod:`initbounds.sim`). The names below load lazily: ``import initbounds`` imports neither torch
nor rich nor typer, and a name from :mod:`initbounds.sim` imports torch only when first used.

>>> import initbounds
>>> initbounds.liveness([4, 4, 4]).p_alive_point > 0.8
True
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

#: The curated API: public name -> module (relative to this package) that defines it.
_API = {
    # width (AB19)
    "min_width": "bounds.width", "min_widths": "bounds.width", "log_failure_bound": "bounds.width",
    "derive_width": "bounds.width", "band_probability": "bounds.band",
    # moments (GH21)
    "activation": "bounds.moments", "sigma2": "bounds.moments", "log_norm_params": "bounds.moments",
    "p_small_output": "bounds.moments", "derive_moment": "bounds.moments",
    # death (RR20)
    "liveness": "bounds.death", "liveness_uniform": "bounds.death", "min_constant_width": "bounds.death",
    "derive_death": "bounds.death",
    # variance (HR18, H18)
    "length_moments": "bounds.variance", "length_law": "bounds.variance", "second_moment": "bounds.variance",
    "jacobian_moments": "bounds.variance", "min_width_for_variance": "bounds.variance",
    "derive_variance": "bounds.variance",
    # resnet (HR18)
    "residual_moments": "bounds.resnet", "residual_growth": "bounds.resnet", "derive_resnet": "bounds.resnet",
    # regions (HR19)
    "first_layer_segment": "bounds.regions", "one_layer_regions_2d": "bounds.regions",
    "regions_paper_claim": "bounds.regions", "derive_regions": "bounds.regions",
    # errors
    "InitBoundsError": "bounds.errors", "DomainError": "bounds.errors", "CostLimitError": "bounds.errors",
    # torch side: simulation and the initializers (import torch on first use)
    "sample_networks": "sim.engine", "run_claims": "sim.validate",
    "fractional_moment_normal_": "sim.init", "init_sequential_": "sim.init", "sign_flip_": "sim.death",
    "init_model_": "sim.init",
    # audit a user's model (issue 15)
    "audit": "sim.audit", "AuditReport": "sim.audit",
}

__all__ = sorted(_API) + ["__version__"]


def __getattr__(name: str):
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'initbounds' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value          # later lookups skip __getattr__
    return value


def __dir__() -> list:
    return sorted(set(globals()) | set(_API))
