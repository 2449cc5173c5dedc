"""The network core (sim/core.py): seeding that distributes, chunking, parameters, forward pass.

Reproducibility tests are exact (bit-identical arrays). Monte Carlo tests use written seeds and
decide by an interval at the suite's per-test level α = 1e-4.
"""
from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest
import torch
from scipy import stats as st

from initbounds.bounds.errors import DomainError
from initbounds.bounds.moments import activation, sigma2_he
from initbounds.bounds.variance import weight_kurtosis
from initbounds.sim import stats
from initbounds.sim.core import (CHUNK_ELEMENTS, CHUNK_NETWORKS, HE_GAIN, Batch, NetworkSpec, Run, Stream,
                                 apply_activation, chunk_size, draw_params, fill_weights_, forward, gain_for,
                                 iter_params, stable_hash)

ALPHA = 1e-4  # per-test error level shared by the Monte Carlo tests of the suite


# --- seeding --------------------------------------------------------------------------------------


def test_stable_hash_is_blake2b_of_the_utf8_name():
    for name in ("", "rho_mean", "régions/ε", "a" * 1000):
        assert stable_hash(name) == int.from_bytes(hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest(),
                                                   "little")
    assert 0 <= stable_hash("x") < 2**64
    with pytest.raises(DomainError, match="name must be a str; got 3"):
        stable_hash(3)


def test_stream_seed_is_the_documented_seed_sequence_word():
    s = Stream(7, "rho_mean")
    ss = np.random.SeedSequence([7, stable_hash("rho_mean"), 3])
    assert s.seed_of(3) == int(ss.generate_state(1, dtype=np.uint64)[0])
    assert torch.equal(torch.randn(5, generator=s.generator(3)),
                       torch.randn(5, generator=torch.Generator().manual_seed(s.seed_of(3))))
    assert s.child("inputs") == Stream(7, "rho_mean/inputs")


def test_same_key_same_numbers_other_key_other_numbers():
    draw = lambda s, k=0: torch.randn(64, generator=s.generator(k))  # noqa: E731
    base = Stream(0, "listen")
    assert torch.equal(draw(base), draw(Stream(0, "listen")))
    # the old scheme seeded with seed + sum(map(ord, name)): anagrams shared every number
    others = [Stream(0, "silent"), Stream(1, "listen"), base.child("a"), Stream(0, "listen/a/b")]
    draws = [draw(base), draw(base, 1)] + [draw(o) for o in others]
    for i in range(len(draws)):
        for j in range(i + 1, len(draws)):
            assert not torch.equal(draws[i], draws[j])


@pytest.mark.parametrize("a, b", [
    (Stream(0, "listen"), Stream(0, "silent")),              # anagrams
    (Stream(0, "rho_mean"), Stream(1, "rho_mean")),          # neighbouring run seeds
    (Stream(5, "x"), Stream(5, "x").child("noise")),         # a stream and its child
])
def test_streams_are_uncorrelated(a, b):
    """Pairs of chunk generators (chunk 0 of a and of b, chunk 0 and chunk 1 of a): the sample
    correlation of 200000 standard normal pairs; under independence √n·r ≈ N(0, 1), so |r| must
    be below z_{1−α/4}/√n (α = 1e-4 split over the 2 pairs: |r| < 0.0093)."""
    n = 200_000
    z = st.norm.ppf(1 - ALPHA / 4)
    for g1, g2 in ((a.generator(0), b.generator(0)), (a.generator(0), a.generator(1))):
        x = torch.randn(n, generator=g1, dtype=torch.float64).numpy()
        y = torch.randn(n, generator=g2, dtype=torch.float64).numpy()
        assert abs(np.corrcoef(x, y)[0, 1]) < z / math.sqrt(n)


def test_stream_arguments():
    with pytest.raises(DomainError, match="seed must be an integer ≥ 0; got -1"):
        Stream(-1, "x")
    with pytest.raises(DomainError, match="name must be a non-empty str; got ''"):
        Stream(0, "")
    with pytest.raises(DomainError, match=r"stream must be a sim.core.Stream \(explicit seeding"):
        Run(torch.Generator(), 4, network_elements=1)


# --- chunking -------------------------------------------------------------------------------------


def test_chunk_size_depends_on_the_design_only():
    assert chunk_size(1) == CHUNK_NETWORKS
    assert chunk_size(CHUNK_ELEMENTS // 3) == 3
    assert chunk_size(10 * CHUNK_ELEMENTS) == 1
    r = Run(Stream(0, "x"), 10, network_elements=CHUNK_ELEMENTS // 4, memory_budget=1)
    assert (r.chunk, r.n_chunks, r.rows) == (4, 3, 10)
    assert [(c.index, c.start, c.size, c.row) for c in r.chunks] == [(0, 0, 4, 0), (1, 4, 4, 4), (2, 8, 2, 8)]
    big = Run(Stream(0, "x"), 10, network_elements=CHUNK_ELEMENTS // 4, memory_budget=2**40)
    # every batch is one chunk, whatever the budget (batched kernels' last bits depend on the batch size)
    assert big.chunk == r.chunk and [b.size for b in big] == [b.size for b in r] == [4, 4, 2]
    sub = Run(Stream(0, "x"), 10, network_elements=CHUNK_ELEMENTS // 4, chunks=[2, 0])
    assert sub.rows == 6 and [(c.index, c.row) for c in sub.chunks] == [(0, 0), (2, 4)]


@pytest.mark.parametrize("chunks, msg", [
    ([3], r"chunks\[0\] must be an integer in \[0, 2\]; got 3"),
    ([0, 0], r"chunks must not repeat an index; got \[0, 0\]"),
    ([], "chunks must list at least one chunk index; got none"),
    ("0", "chunks must be a sequence of chunk indices; got '0'"),
])
def test_bad_chunks(chunks, msg):
    with pytest.raises(DomainError, match=msg):
        Run(Stream(0, "x"), 10, network_elements=CHUNK_ELEMENTS // 4, chunks=chunks)


def test_progress_counts_networks_after_each_batch():
    calls = []
    r = Run(Stream(0, "x"), 10, network_elements=CHUNK_ELEMENTS // 4, memory_budget=1,
            progress=lambda d, t: calls.append((d, t)))
    for _ in r:
        pass
    assert calls == [(0, 10), (4, 10), (8, 10), (10, 10)]


def test_issue11_progress_reports_a_run_that_fits_one_batch_and_changes_nothing():
    """issue 11: a run that fits one batch (the default budget) reported only at its end, so the
    bar of `regions` never showed. With a callback it starts at 0 and reports after every chunk
    (a batch is one chunk); the numbers are the same as without."""
    calls = []
    r = Run(Stream(0, "x"), 2000, network_elements=1000, progress=lambda d, t: calls.append((d, t)))
    assert r.chunk == 1024 and r.per_batch > 2000
    sizes = [b.size for b in r]
    assert calls[0] == (0, 2000) and calls[-1] == (2000, 2000) and sizes == [1024, 976]
    calls.clear()
    r = Run(Stream(0, "x"), 2000, network_elements=CHUNK_ELEMENTS // 50, progress=lambda d, t: calls.append((d, t)))
    assert r.chunk == 50 and [d for d, _ in calls] == []
    list(r)
    assert [d for d, _ in calls] == list(range(0, 2001, 50))
    a, _ = _toy(Stream(3, "toy"), 40)
    b, _ = _toy(Stream(3, "toy"), 40, progress=lambda d, t: None)
    assert np.array_equal(a, b)


def _toy(stream, trials, *, memory_budget=None, chunks=None, progress=None):
    """A toy sampler on the core: widths 256, 256 (chunks of 15 networks), ‖h_2‖² per network."""
    spec = NetworkSpec(256, (256, 256), fan="in", bias_var=0.5)
    run = Run(stream, trials, network_elements=spec.max_layer_elements, memory_budget=memory_budget, chunks=chunks,
              progress=progress)
    out = np.empty(run.rows)
    for batch in run:
        h = forward(spec, torch.ones(1, 1, 256, dtype=torch.float64), iter_params(spec, batch))
        batch.place(out, (h * h).sum(dim=(1, 2)))
    return out, run


def test_toy_sampler_is_budget_and_order_invariant_and_chunks_concatenate():
    s = Stream(3, "toy")
    full, run = _toy(s, 40)
    assert run.n_chunks == 3
    for budget in (1, 20 * 8 * 66_000, 2**40):
        np.testing.assert_array_equal(_toy(s, 40, memory_budget=budget)[0], full)
    np.testing.assert_array_equal(_toy(s, 40, chunks=[2, 1, 0], memory_budget=1)[0], full)
    parts = [_toy(s, 40, chunks=[k])[0] for k in (0, 1, 2)]
    np.testing.assert_array_equal(np.concatenate(parts), full)
    # a longer run starts with the same whole chunks
    np.testing.assert_array_equal(_toy(s, 47)[0][:30], full[:30])
    assert not np.array_equal(_toy(Stream(3, "yot"), 40)[0], full)


# --- every sampler: the budget and the chunk order never change a result --------------------------


def _samplers():
    from initbounds.sim.death import direction_spread, sample_alive_on_set
    from initbounds.sim.engine import sample_inputs, sample_networks
    from initbounds.sim.moments import sample_biased_chain
    from initbounds.sim.regions import sample_segment_regions, sample_slice_regions
    from initbounds.sim.resnet import sample_residual
    from initbounds.sim.variance import sample_jacobian_entry, sample_lengths

    s = Stream(11, "invariance")
    x4 = sample_inputs(64, 4, correlation=0.5, stream=s)
    data = torch.randn(6, 512, generator=s.child("data").generator(), dtype=torch.float64)
    leaky = activation("rrelu", lower=0.1, upper=0.4)
    net = lambda path, T, w, x, **kw: lambda **r: sample_networks(w, x, T, fan="in", stream=s, path=path,  # noqa: E731
                                                                  **kw, **r)
    return {
        "real": net("real", 40, [256, 256], torch.ones(1, 256, dtype=torch.float64), act=leaky),
        "real_grads": net("real", 40, [256, 256], torch.ones(1, 256, dtype=torch.float64), grads=True),
        "gram": net("gram", 50, [2048, 2048], x4, last_gram=True),
        "norm": net("norm", 1400, [8] * 200, torch.ones(1, 8, dtype=torch.float64)),
        "lengths": lambda **r: sample_lengths([512, 512], torch.ones(16), 30, weights="laplace", bias_var=0.2,
                                              stream=s, **r),
        "jacobian": lambda **r: sample_jacobian_entry(8, [512, 512], 20, output="relu", stream=s, **r),
        "residual": lambda **r: sample_residual(3, 512, 512, 0.5, 20, stream=s, **r),
        "chain": lambda **r: sample_biased_chain(leaky, 512, 1.0, 3, 20, stream=s, **r),
        "alive": lambda **r: sample_alive_on_set((512, 2), data, 20, stream=s, bias=True, **r),
        "direction": lambda **r: direction_spread(512, [1, 2], 8, 20, stream=s, **r),
        "segment": lambda **r: sample_segment_regions((8, 8), 3000, input_dim=2, bias_var=1.0, stream=s, **r).counts,
        "slice": lambda **r: sample_slice_regions((6,), 40, input_dim=2, grid=64, bias_var=1.0, stream=s,
                                                  exact_one_layer=True, **r)["grid"],
    }


def _arrays(res):
    if isinstance(res, np.ndarray):
        return [res]
    return [a for a in (res.sq_ratio, res.layer_ratio, res.grad_ratio, res.last_gram) if a is not None]


@pytest.mark.parametrize("name", list(_samplers()))
def test_every_sampler_is_bit_identical_under_budgets_and_chunk_orders(name):
    """Default budget; a budget so small that each batch is one chunk; the chunks run in reverse
    order; and the chunks run one at a time and concatenated: the same arrays, bit for bit. Each
    design has at least 3 chunks."""
    f = _samplers()[name]
    ref = _arrays(f())
    T = ref[0].shape[0]
    chunk = _arrays(f(chunks=[0]))[0].shape[0]
    n = -(-T // chunk)
    assert n >= 3, (name, T, chunk)
    for res in (f(memory_budget=1), f(chunks=list(range(n - 1, -1, -1)))):
        for a, b in zip(ref, _arrays(res), strict=True):
            np.testing.assert_array_equal(a, b)
    one_by_one = [_arrays(f(chunks=[k])) for k in range(n)]
    for i, a in enumerate(ref):
        np.testing.assert_array_equal(a, np.concatenate([p[i] for p in one_by_one]))


def test_global_rng_state_is_never_touched():
    before = torch.get_rng_state().clone()
    for f in _samplers().values():
        f(chunks=[0])
    assert torch.equal(torch.get_rng_state(), before)


# --- parameters -----------------------------------------------------------------------------------


def test_he_gain_is_the_bounds_value():
    relu = activation("relu")
    assert HE_GAIN == gain_for() == gain_for(relu) == 2.0
    for d in (1, 7, 64):
        assert sigma2_he(relu, d) * d == pytest.approx(HE_GAIN, rel=1e-15)
    assert gain_for(activation("linear")) == 1.0
    assert gain_for(activation("leaky", slope=0.5)) == pytest.approx(2 / 1.25, rel=1e-15)


@pytest.mark.parametrize("law", ["gaussian", "uniform", "rademacher", "laplace"])
def test_weight_laws_have_the_stated_variance_and_kurtosis(law):
    """400000 draws of std √0.3 (seed 5): normal intervals at α = 1e-4 over the 3 moments cover
    E W = 0, E W² = 0.3 and E W⁴ = κ·0.09 with κ = bounds.variance.weight_kurtosis(law)."""
    w = fill_weights_(torch.empty(400_000, dtype=torch.float64), law, std=math.sqrt(0.3),
                      generator=Stream(5, "laws").generator()).numpy()
    level = stats.bonferroni(1 - ALPHA, 3)
    slack = lambda v: 4 * np.finfo(float).eps * abs(v)  # noqa: E731  (Rademacher squares are constant)
    _, lo, hi = stats.mean_ci(w, level)
    assert lo <= 0.0 <= hi
    _, lo2, hi2 = stats.mean_ci(w**2, level)
    assert lo2 - slack(0.3) <= 0.3 <= hi2 + slack(0.3)
    k = float(weight_kurtosis(law)) * 0.09
    _, lo4, hi4 = stats.mean_ci(w**4, level)
    assert lo4 - slack(k) <= k <= hi4 + slack(k)


def test_layer_variances_fan_and_override():
    spec = NetworkSpec(3, (4, 5), fan="in", weight_var=(2.0, 1.0))
    assert spec.layer_variances() == (2.0 / 3, 1.0 / 4)
    assert NetworkSpec(3, (4, 5), fan="out").layer_variances() == (2.0 / 4, 2.0 / 5)
    assert NetworkSpec(3, (4, 5), fan="in", variances=[0.1, 0.2]).layer_variances() == (0.1, 0.2)


@pytest.mark.parametrize("kwargs, msg", [
    (dict(widths=()), r"widths must list at least one layer width; got \(\)"),
    (dict(widths=(4, 0)), r"widths\[1\] must be an integer ≥ 1; got 0"),
    (dict(input_dim=True), "input_dim must be an integer ≥ 1; got True"),
    (dict(fan="both"), "fan must be one of 'in', 'out'; got 'both'"),
    (dict(weight_var=0.0), r"weight_var must be in \(0, inf\); got 0.0"),
    (dict(weight_var=[1.0]), r"weight_var must give one value per layer \(2\); got 1"),
    (dict(bias_var=-1.0), r"bias_var must be in \[0, inf\); got -1.0"),
    (dict(weights="cauchy"), "weights must be one of 'gaussian', 'uniform', 'rademacher', 'laplace'; got 'cauchy'"),
    (dict(bias_position="mid"), "bias_position must be one of 'pre', 'post'; got 'mid'"),
    (dict(act="relu"), "act must be a bounds.moments.Activation; got 'relu'"),
    (dict(residual=(0.5,)), r"residual blocks need widths \(m, n, m, n, ...\) with n = input_dim = 3"),
])
def test_spec_errors(kwargs, msg):
    args = dict(input_dim=3, widths=(4, 5), fan="in")
    args.update(kwargs)
    with pytest.raises(DomainError, match=msg):
        NetworkSpec(**args)


def test_documented_draw_order_of_a_chunk():
    """Chunk k draws, from stream.generator(k): W_1 (t, n_1, n_0), b_1, W_2, b_2, … (std √(c/fan),
    bias std √s²), each a normal_ fill of the chunk's rows."""
    spec = NetworkSpec(3, (4, 2), fan="in", weight_var=(2.0, 1.5), bias_var=(0.5, 0.0))
    s = Stream(2, "order")
    p = draw_params(spec, Batch.single(s, 6, size=3))
    g = s.generator(6)
    W1 = torch.empty(3, 4, 3, dtype=torch.float64).normal_(0, math.sqrt(2.0 / 3), generator=g)
    b1 = torch.empty(3, 4, dtype=torch.float64).normal_(0, math.sqrt(0.5), generator=g)
    W2 = torch.empty(3, 2, 4, dtype=torch.float64).normal_(0, math.sqrt(1.5 / 4), generator=g)
    assert torch.equal(p[0].weight, W1) and torch.equal(p[0].bias, b1)
    assert torch.equal(p[1].weight, W2) and p[1].bias is None


@pytest.mark.parametrize("spec", [
    NetworkSpec(5, (6, 6, 6), fan="in", bias_var=0.3),
    NetworkSpec.residual_mlp(6, 6, [0.5, 0.25, 1.0]),          # m = n: a block's two layers share a shape
    NetworkSpec.residual_mlp(6, 4, [0.5, 0.25]),
])
def test_streamed_layers_equal_kept_layers(spec):
    """Regression (one network core): streaming with reused buffers gives the numbers of
    draw_params, including residual blocks whose two layers have the same shape."""
    s = Stream(4, "stream-vs-keep")
    run = Run(s, 50, network_elements=spec.max_layer_elements)
    x = torch.randn(1, 3, spec.input_dim, generator=s.child("x").generator(), dtype=torch.float64)
    kept = forward(spec, x, draw_params(spec, run.whole()))
    bufs: dict = {}
    streamed = forward(spec, x, iter_params(spec, run.whole(), buffers=bufs))
    assert torch.equal(kept, streamed)


def _manual(spec, params, x, t):
    """Network t, one input at a time, from the printed definitions."""
    out = []
    for xi in x:
        h = xi
        if spec.residual is not None:
            for k, eta in enumerate(spec.residual):
                W1, W2 = params[2 * k].weight[t], params[2 * k + 1].weight[t]
                h = h + eta * (W2 @ _phi(spec.act, W1 @ h))
        else:
            for l, (W, b) in enumerate(params):
                z = W[t] @ h
                last = l == spec.depth - 1 and spec.linear_output
                if spec.bias_position == "pre":
                    z = z if b is None else z + b[t]
                    h = z if last else _phi(spec.act, z)
                else:
                    h = (z if last else _phi(spec.act, z)) + (0 if b is None else b[t])
        out.append(h)
    return torch.stack(out)


def _phi(act, z):
    if act.kind == "relu":
        return torch.relu(z)
    if act.kind == "leaky":
        return torch.where(z > 0, z, act.slope * z)
    return z


@pytest.mark.parametrize("spec", [
    NetworkSpec(4, (7, 5, 3), fan="in", bias_var=0.5),
    NetworkSpec(4, (7, 3), fan="out", weights="laplace", act=activation("leaky", slope=0.2), linear_output=True),
    NetworkSpec(4, (4, 4), fan="out", variances=(0.3, 0.4), bias_var=1.0, bias_position="post"),
    NetworkSpec(4, (6, 4), fan="in", weights="uniform", act=activation("linear")),
    NetworkSpec.residual_mlp(4, 3, [0.7, 0.2], weights="rademacher"),
])
def test_forward_equals_the_definition_per_network(spec):
    s = Stream(8, "forward")
    batch = Batch.single(s, 0, size=4)
    params = draw_params(spec, batch)
    x = torch.randn(3, spec.input_dim, generator=s.child("x").generator(), dtype=torch.float64)
    rec = []
    h = forward(spec, x.unsqueeze(0), params, record=lambda l, z, h: rec.append((l, z.shape, h.shape)))
    assert [r[0] for r in rec] == list(range(len(spec.residual) if spec.residual else spec.depth))
    for t in range(4):
        torch.testing.assert_close(h[t], _manual(spec, params, x, t), rtol=1e-13, atol=1e-13)


def test_rrelu_slopes_per_unit_input_and_pass():
    act = activation("rrelu", lower=0.1, upper=0.9)
    s = Stream(0, "rrelu")
    batch = Batch.single(s, 0, size=2)
    z = -torch.ones(2, 3, 50, dtype=torch.float64)              # two networks, three equal inputs
    h1 = apply_activation(act, z, batch)
    c = -h1
    assert bool(((c >= 0.1) & (c <= 0.9)).all())
    assert not torch.equal(c[:, 0], c[:, 1]) and not torch.equal(c[0], c[1])    # per input, per network
    h2 = apply_activation(act, z, batch)
    assert not torch.equal(h1, h2)                               # per pass
    assert torch.equal(apply_activation(act, -z, batch), -z)
    with pytest.raises(DomainError, match="needs noise"):
        apply_activation(act, z)


# --- thread policy (issue 11) ----------------------------------------------------------------------


def _thread_samplers():
    from initbounds.sim.engine import sample_inputs, sample_networks
    from initbounds.sim.regions import sample_segment_regions, sample_slice_regions

    x = sample_inputs(64, 8, correlation=0.3, stream=Stream(1, "inputs"))
    xd = sample_inputs(4, 150, correlation=0.3, stream=Stream(1, "data"))
    return {
        "segment": lambda: sample_segment_regions((16, 16), 300, input_dim=3, bias_var=1.0,
                                                  stream=Stream(2, "t")).counts,
        "slice": lambda: sample_slice_regions((12, 12), 20, input_dim=3, grid=48, bias_var=1.0,
                                              stream=Stream(2, "t"))["grid"],
        "gram": lambda: sample_networks([128, 96, 128], x, 200, fan="in", stream=Stream(3, "t"), path="gram").sq_ratio,
        # more inputs than their dimension (rank-deficient Gram matrices, like a real data set): on two
        # threads LAPACK's QR returned another factor here, which drew other networks from the same seed
        "gram_data": lambda: sample_networks([185, 185], xd, 12, fan="out", stream=Stream(3, "t"), path="gram",
                                             dtype=torch.float32).sq_ratio,
        "real": lambda: sample_networks([128, 96, 128], x, 200, fan="in", stream=Stream(3, "t"), path="real",
                                        grads=True).grad_ratio,
        "norm": lambda: sample_networks([64] * 5, x[:1], 500, fan="in", stream=Stream(3, "t"), path="norm").sq_ratio,
    }


@pytest.mark.parametrize("name", ["segment", "slice", "gram", "gram_data", "real", "norm"])
def test_issue11_threads_never_change_a_result(name, monkeypatch):
    """issue 11: the thread policy (sim.core.thread_policy) may run a batch on 1 thread or more.
    The same seed gives the same bits at INITBOUNDS_THREADS = 1 and 2, and torch's own setting is
    restored after the run."""
    before = torch.get_num_threads()
    f = _thread_samplers()[name]
    out = {}
    for k in ("1", "2"):
        monkeypatch.setenv("INITBOUNDS_THREADS", k)
        out[k] = f()
        assert torch.get_num_threads() == before
    assert np.array_equal(out["1"], out["2"])


def test_issue11_thread_policy_and_its_override(monkeypatch):
    from initbounds.sim.core import PARALLEL_ELEMENTS, policy_threads, thread_policy

    monkeypatch.delenv("INITBOUNDS_THREADS", raising=False)
    assert policy_threads(PARALLEL_ELEMENTS - 1) == 1
    assert 1 <= policy_threads(PARALLEL_ELEMENTS) <= torch.get_num_threads()
    before = torch.get_num_threads()
    seen = []
    r = Run(Stream(0, "x"), 10, network_elements=CHUNK_ELEMENTS // 4, memory_budget=1)
    for _ in r:
        seen.append(torch.get_num_threads())
    assert seen == [1, 1, 1] and torch.get_num_threads() == before
    monkeypatch.setenv("INITBOUNDS_THREADS", "3")
    with thread_policy(10) as n:
        assert n == 3 == torch.get_num_threads()
    assert torch.get_num_threads() == before
    monkeypatch.setenv("INITBOUNDS_THREADS", "default")
    assert policy_threads(10) is None
    for bad in ("0", "-1", "two", "1.5"):
        monkeypatch.setenv("INITBOUNDS_THREADS", bad)
        with pytest.raises(DomainError, match=f"INITBOUNDS_THREADS must be a positive integer or 'default'; got '{bad}'"):
            policy_threads(10)
    # restored even when the body raises
    monkeypatch.setenv("INITBOUNDS_THREADS", "1")
    with pytest.raises(RuntimeError):
        with thread_policy(10):
            raise RuntimeError("boom")
    assert torch.get_num_threads() == before
