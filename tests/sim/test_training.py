"""The shared training core (issue 13): data, builders, initialization law, and a deterministic
SGD loop that samples without replacement within epochs."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats as st
from torch import nn

from initbounds.bounds.errors import DomainError
from initbounds.sim.training import (UBN_GAMMA0, DataSplit, batch_statistics, count_parameters, evaluate,
                                     load_dataset, mlp, residual_cnn, residual_mlp, small_cnn, train)

ALPHA = 1e-4   # the suite's level for statistical decisions in this file


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_dataset_split_is_stratified_standardized_on_train_only_and_seeded():
    d = load_dataset("digits", seed=3)
    assert d.x_train.dtype == torch.float64 and d.y_train.dtype == torch.int64 and d.classes == 10
    assert len(d.y_train) + len(d.y_test) == 1797
    mu, sd = d.x_train.mean(0), d.x_train.std(0, unbiased=False)
    assert float(mu.abs().max()) < 1e-12
    live = sd > 0
    assert torch.allclose(sd[live], torch.ones_like(sd[live]), atol=1e-12)
    # the test set is standardized with the training statistics, so its mean is not exactly 0
    assert float(d.x_test.mean(0).abs().max()) > 1e-3
    # stratified: class counts in the test set differ from the proportional share by < 1
    full = np.bincount(np.r_[d.y_train.numpy(), d.y_test.numpy()])
    assert np.all(np.abs(np.bincount(d.y_test.numpy()) - full * len(d.y_test) / full.sum()) < 1)
    again = load_dataset("digits", seed=3)
    assert torch.equal(again.x_train, d.x_train) and torch.equal(again.y_test, d.y_test)
    assert not torch.equal(load_dataset("digits", seed=4).y_test, d.y_test)
    img = load_dataset("digits", seed=3, images=True)
    assert torch.equal(img.x_train.reshape(len(img.y_train), -1), d.x_train)
    assert load_dataset("iris", seed=0).classes == 3
    assert load_dataset("digits", seed=0, dtype=torch.float32).x_train.dtype == torch.float32


@pytest.mark.parametrize("kw, msg", [
    (dict(name="mnist", seed=0), "name must be one of"),
    (dict(seed=-1), "seed"),
    (dict(seed=0, test_fraction=1.0), "test_fraction"),
    (dict(name="iris", seed=0, images=True), "images=True needs name='digits'"),
])
def test_dataset_bad_input(kw, msg):
    with pytest.raises(DomainError, match=msg):
        load_dataset(**kw)


@pytest.mark.parametrize("c, shape, act", [(2.0, (400, 300), "relu"), (1.0, (300, 400), "linear")])
def test_initial_weights_follow_he_and_lecun_laws(c, shape, act):
    """Every entry N(0, c/fan-in): the sample variance of 120000 entries is σ²χ²_N/N; the
    two-sided χ² interval at ALPHA must contain c/fan-in, and the mean is inside its z-interval."""
    net = mlp(shape[1], shape[0], 1, 10, generator=_gen(1), act=act)
    W = net[0].weight.detach().numpy().ravel()
    N, var = W.size, c / shape[1]
    s2 = float(np.mean(W**2))
    lo, hi = st.chi2.ppf(ALPHA / 2, N) / N * var, st.chi2.ppf(1 - ALPHA / 2, N) / N * var
    assert lo <= s2 <= hi
    assert abs(W.mean()) <= st.norm.ppf(1 - ALPHA / 2) * np.sqrt(var / N)
    assert float(net[0].bias.detach().abs().max()) == 0.0


def test_residual_blocks_compose_and_skip():
    d = load_dataset("digits", seed=0)
    for variant in ("post", "pre"):
        for norm in ("none", "bn", "ubn"):
            net = residual_mlp(64, 12, 3, 10, generator=_gen(2), variant=variant, norm=norm)
            net.eval()
            x = d.x_test[:7]
            hs, fs = net.states(x)
            assert len(hs) == 4 and len(fs) == 3
            for i in range(3):
                assert torch.equal(hs[i + 1], hs[i] + fs[i])
                assert torch.equal(fs[i], net.branch(i, hs[i]))
            assert torch.allclose(net(x), net.head(hs[-1]))
            assert torch.allclose(net(x, skip=(0, 1, 2)), net.head(net.stem(x)))
    shared = residual_mlp(64, 12, 4, 10, generator=_gen(0), shared=True, branch_width=4 * 12)
    unshared = residual_mlp(64, 12, 4, 10, generator=_gen(0))
    assert len(shared.branches) == 1 and count_parameters(shared) == count_parameters(unshared)
    ubn = residual_mlp(64, 12, 4, 10, generator=_gen(0), shared=True, norm="ubn")
    bns = [m for m in ubn.modules() if isinstance(m, nn.BatchNorm1d)]
    assert len(bns) == 8 and all(float(b.weight.detach().max()) == UBN_GAMMA0 for b in bns)
    bn = residual_mlp(64, 12, 4, 10, generator=_gen(0), shared=True, norm="bn")
    assert len([m for m in bn.modules() if isinstance(m, nn.BatchNorm1d)]) == 2   # shared with the block
    cnn = residual_cnn(10, channels=4, blocks=2, generator=_gen(0), norm="bn")
    assert cnn(load_dataset("digits", seed=0, images=True).x_test[:3]).shape == (3, 10)


def test_alpha_zero_branch_is_identity():
    net = residual_mlp(64, 12, 3, 10, generator=_gen(0), alpha=0.0)
    x = load_dataset("digits", seed=0).x_test[:5]
    hs, fs = net.states(x)
    assert all(float(f.detach().abs().max()) == 0.0 for f in fs)


def test_training_is_deterministic_given_seed_and_changes_with_it():
    d = load_dataset("digits", seed=0)

    def run(seed, mom):
        net = residual_mlp(64, 16, 3, 10, generator=_gen(5), norm="bn")
        r = train(net, d, steps=30, lr=0.05, batch=16, momentum=mom, seed=seed, record_every=10,
                  record=lambda t, m: float(m.head_linear.weight.detach().sum()))
        return r, torch.cat([p.detach().ravel() for p in net.parameters()])

    (a, pa), (b, pb) = run(7, 0.9), run(7, 0.9)
    assert a.batch_loss == b.batch_loss and a.test_loss == b.test_loss and torch.equal(pa, pb)
    assert a.steps == [0, 10, 20, 30] and len(a.records) == 4 and len(a.batch_loss) == 30
    c, pc = run(8, 0.9)
    assert c.batch_loss != a.batch_loss


class _Seen(nn.Module):
    """Records the first feature (an example's index) of every training batch."""

    def __init__(self, classes):
        super().__init__()
        self.lin = nn.Linear(1, classes, dtype=torch.float64)
        self.seen = []

    def forward(self, x):
        if self.training and torch.is_grad_enabled():
            self.seen.append(x[:, 0].long().tolist())
        return self.lin(x)


def test_minibatches_are_without_replacement_within_an_epoch_and_drop_the_remainder():
    N, B = 50, 8
    x = torch.arange(N, dtype=torch.float64).unsqueeze(1)
    y = torch.arange(N) % 3
    data = DataSplit(x, y, x[:5], y[:5], 3, "index")
    m = _Seen(3)
    train(m, data, steps=2 * (N // B), lr=0.01, batch=B, seed=0)
    epochs = [sum(m.seen[e * (N // B):(e + 1) * (N // B)], []) for e in range(2)]
    for ep in epochs:
        assert len(ep) == len(set(ep)) == (N // B) * B
    assert epochs[0] != epochs[1]


def test_one_plain_sgd_step_is_the_gradient_step_on_the_seeded_batch():
    d = load_dataset("digits", seed=0)
    net = mlp(64, 8, 1, 10, generator=_gen(0))
    ref = mlp(64, 8, 1, 10, generator=_gen(0))
    train(net, d, steps=1, lr=0.1, batch=10, seed=11)
    idx = torch.randperm(len(d.y_train), generator=torch.Generator().manual_seed(11))[:10]
    loss = nn.functional.cross_entropy(ref(d.x_train[idx]), d.y_train[idx])
    grads = torch.autograd.grad(loss, list(ref.parameters()))
    for p, q, g in zip(net.parameters(), ref.parameters(), grads):
        assert torch.allclose(p, q - 0.1 * g, rtol=0, atol=1e-15)


def test_divergence_stops_training_without_non_finite_numbers():
    d = load_dataset("digits", seed=0)
    net = mlp(64, 32, 3, 10, generator=_gen(0))
    r = train(net, d, steps=50, lr=1e6, batch=32, seed=0)
    assert r.diverged_at is not None and r.diverged_at < 50
    assert all(np.isfinite(r.batch_loss)) and all(np.isfinite(r.test_loss))


def test_batch_statistics_leaves_running_statistics_and_modes_alone():
    net = residual_mlp(64, 8, 2, 10, generator=_gen(0), norm="bn")
    net.eval()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    x = load_dataset("digits", seed=0).x_test[:20]
    with batch_statistics(net):
        out = net(x)
    assert not net.training and all(not m.training for m in net.modules())
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert not torch.allclose(out, net(x))        # batch statistics differ from the running ones


def test_builders_and_train_refuse_bad_input():
    d = load_dataset("digits", seed=0)
    with pytest.raises(DomainError, match="generator"):
        mlp(64, 8, 1, 10, generator=0)
    with pytest.raises(DomainError, match="norm must be one of"):
        residual_mlp(64, 8, 2, 10, generator=_gen(), norm="ln")
    with pytest.raises(DomainError, match="batch"):
        train(residual_mlp(64, 8, 2, 10, generator=_gen(), norm="bn"), d, steps=1, lr=0.1, batch=1, seed=0)
    with pytest.raises(DomainError, match="lr"):
        train(mlp(64, 8, 1, 10, generator=_gen()), d, steps=1, lr=0.0, batch=4, seed=0)
    loss, acc = evaluate(small_cnn(10, channels=2, generator=_gen()), load_dataset("digits", seed=0, images=True).x_test,
                         d.y_test)
    assert np.isfinite(loss) and 0 <= acc <= 1
