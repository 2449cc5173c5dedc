"""CUDA paths (run only when asked: `pytest -m gpu`, on a machine where torch sees a GPU)."""
from __future__ import annotations

import pytest
import torch
from scipy import stats as st

from initbounds.sim.core import Stream
from initbounds.sim.engine import sample_inputs, sample_networks

pytestmark = pytest.mark.gpu


@pytest.mark.skipif(not torch.cuda.is_available(), reason="torch sees no CUDA device")
@pytest.mark.parametrize("path", ["real", "gram", "norm"])
def test_cuda_samples_the_same_law_as_cpu(path):
    """Two-sample KS of last-layer norms, CUDA vs CPU, each path (seeds 1, 2; α = 1e-4)."""
    widths = [128, 96, 128]
    N = 1 if path == "norm" else 3
    s = Stream(0, "tests/sim/test_gpu")
    x = sample_inputs(32, N, correlation=0.5, stream=s)
    a = sample_networks(widths, x.cuda(), 4000, fan="in", path=path, device="cuda", stream=s.child("cuda"))
    b = sample_networks(widths, x, 4000, fan="in", path=path, stream=s.child("cpu"))
    assert a.device.startswith("cuda")
    for i in range(N):
        assert st.ks_2samp(a.sq_ratio[:, -1, i], b.sq_ratio[:, -1, i]).pvalue >= 1e-4 / N
