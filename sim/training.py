r"""Trainable networks and one short, reproducible training loop on a real data set.

The network core :mod:`sim.core` draws *many* networks at once for statistics at initialization;
this module holds the complement: single ``torch.nn.Module`` networks that are trained, shared by
the topics that measure trained networks (J18 ``refine``; the SGD-noise topics J17/J20).

* :func:`load_dataset` — a data set shipped inside scikit-learn (offline): ``digits`` (1797 × 64,
  10 classes; ``images=True`` gives (N, 1, 8, 8)), ``iris``, ``wine``, ``breast_cancer``. A
  stratified split fixed by ``seed``; features standardized with the **training** mean and
  standard deviation only (constant features divided by 1).
* Builders: :func:`mlp`, :func:`small_cnn`, :func:`residual_mlp`, :func:`residual_cnn`. Weights
  are drawn from an explicit ``torch.Generator`` with the toolkit's own initializer
  (:func:`sim.init.fractional_moment_normal_` at s = 2, fan-in: He, Var W = 2/fan-in, before a
  ReLU; LeCun, Var W = 1/fan-in, for a linear map), biases zero.
* :func:`train` — plain SGD (or heavy-ball momentum) on the mean cross-entropy, float64 by
  default. Mini-batches are drawn **without replacement within an epoch**: every epoch is a fresh
  permutation of the training set from a ``torch.Generator`` seeded by ``seed``, cut into
  consecutive batches of ``batch`` examples; the last ``N mod batch`` examples of a permutation
  are dropped (so every step sees exactly ``batch`` examples) and the next epoch starts. The
  same model, data and seed give the same bits (tests/sim/test_training.py).

Residual networks (J18, Jastrzębski et al., arXiv 1710.04773) are h_0 = W_in x (the input layer),
h_{i+1} = h_i + F_i(h_i) for i = 0 … B−1, logits = head(h_B) = W_out φ(h_B) + b_out, with a branch
F = α·W₂ φ(W₁ h) (``variant="post"``: linear → [norm] → φ → linear → [norm]) or
F = α·W₂ φ([norm] W₁ φ([norm] h)) (``variant="pre"``: the ordering of He et al. 2016, arXiv
1603.05027). Both keep the identity skip connection h + F, the form J18 analyses. W₁ has
variance 2/fan-in and W₂ variance 1/fan-in, so without norm layers E‖F‖² = α²‖h‖² for the post
variant (``bounds.refine``). Norm layers (``norm``): ``"none"``; ``"bn"``, batch normalization
inside the branch with γ₀ = 1, part of the block (shared when the blocks are shared); ``"ubn"``,
J18's remedy for shared blocks: batch normalization with its own statistics (and its own affine
γ, β) at every step even when the block weights are shared, and γ initialized to
:data:`UBN_GAMMA0` = 0.1.

>>> data = load_dataset("digits", seed=0)
>>> g = torch.Generator().manual_seed(0)
>>> net = residual_mlp(64, 16, 3, 10, generator=g)
>>> res = train(net, data, steps=5, lr=0.05, batch=32, seed=0)
>>> len(res.steps), res.steps[-1]
(2, 5)
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np
import torch
from torch import nn

from ..bounds.errors import DomainError, check_choice, check_int, check_real

from .core import Stream, thread_policy
from .init import fractional_moment_normal_

__all__ = ["DATASETS", "DataSplit", "load_dataset", "ACTIVATIONS", "NORMS", "VARIANTS", "UBN_GAMMA0",
           "he_normal_", "mlp", "small_cnn", "Branch", "ResidualNet", "residual_mlp", "residual_cnn",
           "count_parameters", "batch_statistics", "TrainResult", "train", "evaluate"]

#: The data sets shipped inside scikit-learn that :func:`load_dataset` knows (all offline).
DATASETS = ("digits", "iris", "wine", "breast_cancer")
#: Hidden activations of the builders.
ACTIVATIONS = ("relu", "linear")
#: Norm layers in a residual branch: none, batch norm (γ₀ = 1), unshared-per-step batch norm with γ₀ = 0.1.
NORMS = ("none", "bn", "ubn")
#: Branch orderings: post (linear-norm-act-linear-norm) and pre (norm-act-linear-norm-act-linear).
VARIANTS = ("post", "pre")
#: J18's remedy for shared blocks (arXiv 1710.04773, §5 "sharing residual blocks"): the batch-norm
#: scale γ initialized to 0.1 [paper claim].
UBN_GAMMA0 = 0.1
_DTYPES = (torch.float64, torch.float32)


# --- data --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DataSplit:
    """A train/test split: features (float, standardized with the training statistics) and int64
    labels; ``classes`` the number of classes, ``name`` the data set."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    classes: int
    name: str

    @property
    def input_dim(self) -> int:
        return int(np.prod(self.x_train.shape[1:]))


def load_dataset(name: str = "digits", *, seed: int, test_fraction: float = 0.25, dtype=torch.float64,
                 images: bool = False) -> DataSplit:
    """A stratified train/test split of a data set shipped with scikit-learn, standardized with
    the training statistics only.

    ``name`` in :data:`DATASETS`; ``seed`` ≥ 0 fixes the split (``train_test_split(random_state=
    seed, stratify=y)``; a seed ≥ 2^32, beyond scikit-learn's range, is folded to 32 bits through
    ``Stream(seed, "training.split")``); ``test_fraction`` in (0, 1); ``images=True`` (digits
    only) returns x of shape (N, 1, 8, 8), standardized per pixel like the flat features.

    >>> d = load_dataset("digits", seed=0)
    >>> tuple(d.x_train.shape), tuple(d.x_test.shape), d.classes
    ((1347, 64), (450, 64), 10)
    >>> tuple(load_dataset("digits", seed=0, images=True).x_test.shape)
    (450, 1, 8, 8)
    """
    from sklearn import datasets
    from sklearn.model_selection import train_test_split

    name = check_choice("name", name, DATASETS)
    seed = check_int("seed", seed, lo=0)
    test_fraction = check_real("test_fraction", test_fraction, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    if dtype not in _DTYPES:
        raise DomainError(f"dtype must be torch.float64 or torch.float32; got {dtype!r}")
    if images and name != "digits":
        raise DomainError(f"images=True needs name='digits' (8×8 images); got {name!r}")
    d = getattr(datasets, f"load_{name}")()
    state = seed if seed < 2**32 else Stream(seed, "training.split").seed_of(0) % 2**32
    xtr, xte, ytr, yte = train_test_split(d.data, d.target, test_size=test_fraction, random_state=state,
                                          stratify=d.target)
    mu, sd = xtr.mean(axis=0), xtr.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    shape = (-1, 1, 8, 8) if images else (-1, d.data.shape[1])

    def feats(a):
        return torch.tensor((a - mu) / sd, dtype=dtype).reshape(shape)

    def labels(a):
        return torch.tensor(a, dtype=torch.int64)

    return DataSplit(feats(xtr), labels(ytr), feats(xte), labels(yte), int(len(np.unique(d.target))), name)


# --- initialization ----------------------------------------------------------------------------------
@torch.no_grad()
def he_normal_(weight: torch.Tensor, *, activation: str, generator: torch.Generator) -> torch.Tensor:
    """Fill a Linear (out, in) or Conv (out, in, k, k) weight in place with N(0, c/fan-in):
    c = 2 before a ReLU (He), c = 1 for a linear map (LeCun); fan-in = in·k·k. Drawn by
    :func:`sim.init.fractional_moment_normal_` (s = 2, fan "in") on the (out, fan-in) view."""
    activation = check_choice("activation", activation, ACTIVATIONS)
    fractional_moment_normal_(weight.view(weight.shape[0], -1), s=2.0, activation=activation, fan="in",
                              generator=generator)
    return weight


def _linear(n_in, n_out, *, activation, generator, dtype, bias=True) -> nn.Linear:
    lin = nn.Linear(n_in, n_out, bias=bias, dtype=dtype)
    he_normal_(lin.weight, activation=activation, generator=generator)
    if bias:
        nn.init.zeros_(lin.bias)
    return lin


def _conv(c_in, c_out, *, activation, generator, dtype, bias=True) -> nn.Conv2d:
    conv = nn.Conv2d(c_in, c_out, 3, padding=1, bias=bias, dtype=dtype)
    he_normal_(conv.weight, activation=activation, generator=generator)
    if bias:
        nn.init.zeros_(conv.bias)
    return conv


def _act(name: str) -> nn.Module:
    return nn.ReLU() if name == "relu" else nn.Identity()


def _check_common(generator, dtype, act):
    if not isinstance(generator, torch.Generator):
        raise DomainError(f"generator must be a torch.Generator; got {type(generator).__name__}")
    if dtype not in _DTYPES:
        raise DomainError(f"dtype must be torch.float64 or torch.float32; got {dtype!r}")
    return check_choice("act", act, ACTIVATIONS)


# --- plain networks ----------------------------------------------------------------------------------
def mlp(input_dim: int, width: int, depth: int, classes: int, *, generator: torch.Generator, act: str = "relu",
        dtype=torch.float64) -> nn.Sequential:
    """input_dim → ``depth`` hidden layers of ``width`` (``act``) → ``classes`` logits (linear).

    Every Linear layer N(0, c/fan-in) with c = 2 for ReLU (the input layer and the head too: each
    reads standardized or ReLU features), c = 1 for ``act="linear"``; biases zero.

    >>> net = mlp(64, 32, 2, 10, generator=torch.Generator().manual_seed(0))
    >>> net(torch.zeros(3, 64, dtype=torch.float64)).shape
    torch.Size([3, 10])
    """
    act = _check_common(generator, dtype, act)
    input_dim, width = check_int("input_dim", input_dim, lo=1), check_int("width", width, lo=1)
    depth, classes = check_int("depth", depth, lo=0), check_int("classes", classes, lo=1)
    layers, n = [], input_dim
    for _ in range(depth):
        layers += [_linear(n, width, activation=act, generator=generator, dtype=dtype), _act(act)]
        n = width
    layers.append(_linear(n, classes, activation=act, generator=generator, dtype=dtype))
    return nn.Sequential(*layers)


def small_cnn(classes: int, *, channels: int = 16, generator: torch.Generator, act: str = "relu",
              dtype=torch.float64) -> nn.Sequential:
    """A small CNN for 1×8×8 images: conv3×3(1→C) → φ → conv3×3(C→C) → φ → 2×2 max-pool →
    conv3×3(C→C) → φ → global average pool → Linear(C → classes). He fan-in weights (fan-in =
    C_in·9), zero biases.

    >>> net = small_cnn(10, channels=4, generator=torch.Generator().manual_seed(0))
    >>> net(torch.zeros(2, 1, 8, 8, dtype=torch.float64)).shape
    torch.Size([2, 10])
    """
    act = _check_common(generator, dtype, act)
    C, classes = check_int("channels", channels, lo=1), check_int("classes", classes, lo=1)
    kw = dict(activation=act, generator=generator, dtype=dtype)
    return nn.Sequential(_conv(1, C, **kw), _act(act), _conv(C, C, **kw), _act(act), nn.MaxPool2d(2),
                         _conv(C, C, **kw), _act(act), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         _linear(C, classes, **kw))


# --- residual networks -------------------------------------------------------------------------------
class Branch(nn.Module):
    """The weights of one residual branch, W₁ (width → branch_width) and W₂ (branch_width →
    width), bias-free, as Linear or 3×3 Conv layers. Norm layers are held by :class:`ResidualNet`
    (per step or per block), so one Branch can serve several steps when blocks are shared."""

    def __init__(self, width, branch_width, *, conv, generator, dtype):
        super().__init__()
        make = _conv if conv else _linear
        self.w1 = make(width, branch_width, activation="relu", generator=generator, dtype=dtype, bias=False)
        self.w2 = make(branch_width, width, activation="linear", generator=generator, dtype=dtype, bias=False)


def _norm(n, *, conv, gamma0, dtype):
    bn = (nn.BatchNorm2d if conv else nn.BatchNorm1d)(n, dtype=dtype)
    nn.init.constant_(bn.weight, gamma0)
    return bn


class ResidualNet(nn.Module):
    r"""h_0 = stem(x); h_{i+1} = h_i + F_i(h_i), i < B; logits = W_out φ(pool(h_B)) + b.

    F_i = α·W₂ φ(W₁ h) (post, no norm), with norm layers as in the module docstring. Attributes:
    ``blocks`` (B), ``alpha``, ``variant``, ``norm``, ``shared`` and ``conv``. The pieces are
    exposed for measurements: :meth:`stem_forward`, :meth:`branch` (F_i), :meth:`head`,
    :meth:`states` (h_0 … h_B and F_0 … F_{B−1} in one pass), :meth:`forward` (logits, with
    ``skip``: the blocks left out, for block dropping).
    """

    def __init__(self, stem: nn.Module, branches: list, norms: list, head: nn.Linear, *, alpha: float,
                 variant: str, norm: str, shared: bool, conv: bool):
        super().__init__()
        self.stem = stem
        self.branches = nn.ModuleList(branches)       # one (shared) or B modules
        self.norms = nn.ModuleList(norms)             # B ModuleLists of two norms (may repeat modules)
        self.head_linear = head
        self.alpha, self.variant, self.norm, self.shared, self.conv = alpha, variant, norm, shared, conv
        self.blocks = len(norms)

    def stem_forward(self, x):
        return self.stem(x)

    def branch(self, i: int, h: torch.Tensor, signs: Optional[list] = None) -> torch.Tensor:
        """F_i(h); ``signs`` (a list) receives the sign pattern (z > 0) of every ReLU input."""
        W = self.branches[0 if self.shared else i]
        n1, n2 = self.norms[i]

        def relu(z):
            if signs is not None:
                signs.append(z > 0)
            return torch.relu(z)

        if self.variant == "post":
            return self.alpha * n2(W.w2(relu(n1(W.w1(h)))))
        return self.alpha * W.w2(relu(n2(W.w1(relu(n1(h))))))

    def head(self, h: torch.Tensor, signs: Optional[list] = None) -> torch.Tensor:
        """logits from a hidden state h (any block's: the classifier applied at h)."""
        if signs is not None:
            signs.append(h > 0)
        z = torch.relu(h)
        if self.conv:
            z = z.mean(dim=(2, 3))
        return self.head_linear(z)

    def states(self, x: torch.Tensor, *, deltas=None, signs: Optional[list] = None):
        """([h_0, …, h_B], [F_0, …, F_{B−1}]); with ``deltas`` (B tensors shaped like h) the pass
        uses h_i + δ_i in place of h_i (the gradient in δ_i at 0 is ∂L/∂h_i); ``signs`` collects
        the branches' ReLU sign patterns."""
        h = self.stem(x)
        hs, fs = [], []
        for i in range(self.blocks):
            if deltas is not None:
                h = h + deltas[i]
            f = self.branch(i, h, signs)
            hs.append(h)
            fs.append(f)
            h = h + f
        hs.append(h)
        return hs, fs

    def forward(self, x: torch.Tensor, skip=(), deltas=None, head_only: bool = False) -> torch.Tensor:
        """Logits. ``skip``: blocks left out (h_{i+1} = h_i); ``deltas``: perturbations added at
        h_0 … h_{B−1} (as in :meth:`states`); ``head_only``: ``x`` is a hidden state h and the
        result is head(h) (so ``torch.func.functional_call`` can reach every piece)."""
        if head_only:
            return self.head(x)
        h = self.stem(x)
        for i in range(self.blocks):
            if deltas is not None:
                h = h + deltas[i]
            if i not in skip:
                h = h + self.branch(i, h)
        return self.head(h)


def _residual(stem, width, branch_width, blocks, classes, *, alpha, variant, norm, shared, conv, generator, dtype):
    B = check_int("blocks", blocks, lo=1)
    alpha = check_real("alpha", alpha, lo=0.0)
    variant = check_choice("variant", variant, VARIANTS)
    norm = check_choice("norm", norm, NORMS)
    shared = bool(shared)
    branches = [Branch(width, branch_width, conv=conv, generator=generator, dtype=dtype)
                for _ in range(1 if shared else B)]
    gamma0 = UBN_GAMMA0 if norm == "ubn" else 1.0
    dims = (branch_width, width) if variant == "post" else (width, branch_width)

    def pair():
        if norm == "none":
            return nn.ModuleList([nn.Identity(), nn.Identity()])
        return nn.ModuleList([_norm(d, conv=conv, gamma0=gamma0, dtype=dtype) for d in dims])

    if norm == "bn" and shared:
        one = pair()
        norms = [one] * B                            # the block (weights and its norms) is shared
    else:
        norms = [pair() for _ in range(B)]           # ubn: own statistics and γ, β at every step
    head = _linear(width, classes, activation="relu", generator=generator, dtype=dtype)
    return ResidualNet(stem, branches, norms, head, alpha=alpha, variant=variant, norm=norm, shared=shared, conv=conv)


def residual_mlp(input_dim: int, width: int, blocks: int, classes: int, *, generator: torch.Generator,
                 alpha: float = 1.0, branch_width: Optional[int] = None, variant: str = "post", norm: str = "none",
                 shared: bool = False, dtype=torch.float64) -> ResidualNet:
    """A residual MLP: input layer W_in (input_dim → width, LeCun 1/fan-in, bias zero), ``blocks``
    residual blocks h + F(h) (branch width ``branch_width``, default ``width``; W₁ He 2/fan-in,
    W₂ 1/fan-in, bias-free), head W_out φ(h_B) + b (He). Arguments as in the module docstring.

    >>> net = residual_mlp(64, 16, 4, 10, generator=torch.Generator().manual_seed(0), shared=True)
    >>> len(net.branches), net(torch.zeros(2, 64, dtype=torch.float64)).shape
    (1, torch.Size([2, 10]))
    """
    _check_common(generator, dtype, "relu")
    input_dim, width = check_int("input_dim", input_dim, lo=1), check_int("width", width, lo=1)
    classes = check_int("classes", classes, lo=1)
    m = width if branch_width is None else check_int("branch_width", branch_width, lo=1)
    stem = _linear(input_dim, width, activation="linear", generator=generator, dtype=dtype)
    return _residual(stem, width, m, blocks, classes, alpha=alpha, variant=variant, norm=norm, shared=shared,
                     conv=False, generator=generator, dtype=dtype)


def residual_cnn(classes: int, *, channels: int = 8, blocks: int = 4, generator: torch.Generator, alpha: float = 1.0,
                 variant: str = "post", norm: str = "none", shared: bool = False, dtype=torch.float64) -> ResidualNet:
    """A residual CNN for 1×8×8 images: stem conv3×3 (1 → C, LeCun), ``blocks`` residual blocks
    with 3×3 convolutions (C → C → C, zero padding; W₁ He, W₂ 1/fan-in), head global average
    pool of φ(h_B) → Linear(C → classes).

    >>> net = residual_cnn(10, channels=4, blocks=2, generator=torch.Generator().manual_seed(0))
    >>> net(torch.zeros(2, 1, 8, 8, dtype=torch.float64)).shape
    torch.Size([2, 10])
    """
    _check_common(generator, dtype, "relu")
    C, classes = check_int("channels", channels, lo=1), check_int("classes", classes, lo=1)
    stem = _conv(1, C, activation="linear", generator=generator, dtype=dtype, bias=True)
    return _residual(stem, C, C, blocks, classes, alpha=alpha, variant=variant, norm=norm, shared=shared,
                     conv=True, generator=generator, dtype=dtype)


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters, each shared tensor counted once."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


class batch_statistics:
    """Context: every batch-norm layer of ``model`` normalizes with the current batch's
    statistics (training mode) without changing its running statistics (momentum 0 while inside);
    the previous modes and momenta are restored on exit. Other layers keep their mode."""

    def __init__(self, model: nn.Module):
        self.model = model

    def __enter__(self):
        self.saved = [(m, m.training, m.momentum) for m in self.model.modules()
                      if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        self.counts = [m.num_batches_tracked.clone() for m, _, _ in self.saved]
        for m, _, _ in self.saved:
            m.train()
            m.momentum = 0.0
        return self.model

    def __exit__(self, *exc):
        for (m, mode, mom), c in zip(self.saved, self.counts):
            m.train(mode)
            m.momentum = mom
            m.num_batches_tracked.copy_(c)
        return False


# --- training ----------------------------------------------------------------------------------------
@dataclass
class TrainResult:
    """What :func:`train` returns. Per recorded step (``steps``: 0, k, 2k, …, and the last):
    ``train_loss``, ``train_acc``, ``test_loss``, ``test_acc`` on the whole split (eval mode), and
    ``records`` (what ``record(step, model)`` returned). ``batch_loss``: the loss of every step's
    mini-batch (before its update). ``diverged_at``: the first step whose mini-batch loss was not
    finite, or after whose update a parameter was not (training stops there; None if it never
    happened). ``seconds``: wall time of the loop."""

    steps: list = field(default_factory=list)
    train_loss: list = field(default_factory=list)
    train_acc: list = field(default_factory=list)
    test_loss: list = field(default_factory=list)
    test_acc: list = field(default_factory=list)
    records: list = field(default_factory=list)
    batch_loss: list = field(default_factory=list)
    diverged_at: Optional[int] = None
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("steps", "train_loss", "train_acc", "test_loss", "test_acc",
                                              "diverged_at")}


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, chunk: int = 4096) -> tuple:
    """(mean cross-entropy, accuracy) of ``model`` in eval mode on (x, y); the mode is restored."""
    was = model.training
    model.eval()
    try:
        loss, correct = 0.0, 0
        for s in range(0, len(y), chunk):
            out = model(x[s:s + chunk])
            loss += float(nn.functional.cross_entropy(out, y[s:s + chunk], reduction="sum"))
            correct += int((out.argmax(dim=1) == y[s:s + chunk]).sum())
        return loss / len(y), correct / len(y)
    finally:
        model.train(was)


@torch.no_grad()
def _finite(model) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in model.parameters())


def _has_bn(model):
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


def train(model: nn.Module, data: DataSplit, *, steps: int, lr: float, batch: int, momentum: float = 0.0, seed: int,
          record_every: int = 0, record: Optional[Callable] = None, progress: Optional[Callable] = None) -> TrainResult:
    """Train ``model`` in place with SGD (``momentum`` 0: plain SGD; > 0: torch's heavy ball,
    v ← μv + g, θ ← θ − ηv; no weight decay) on the mean cross-entropy of mini-batches.

    ``steps`` ≥ 0 updates; ``lr`` η > 0; ``batch`` in [1, training-set size] (≥ 2 when the model
    has batch norm); ``momentum`` μ in [0, 1); ``seed`` ≥ 0 seeds the ``torch.Generator`` of the
    mini-batch permutations (without replacement within an epoch; the remainder of each
    permutation is dropped). At step 0, every ``record_every`` steps (0: never in between) and
    after the last step the whole train and test sets are evaluated (eval mode) and
    ``record(step, model)`` is called (its value kept in ``records``; the model is in training
    mode and must be left so). ``progress(done, total)`` is called after each step. Training
    stops at the first non-finite mini-batch loss, or when an update left a non-finite parameter
    (checked before each record and at the end): ``diverged_at``, and no record is made then.

    >>> d = load_dataset("digits", seed=0)
    >>> net = mlp(64, 16, 1, 10, generator=torch.Generator().manual_seed(0))
    >>> r = train(net, d, steps=20, lr=0.05, batch=32, seed=0, record_every=10)
    >>> r.steps, r.test_acc[-1] > r.test_acc[0]
    ([0, 10, 20], True)
    """
    import time

    steps = check_int("steps", steps, lo=0)
    lr = check_real("lr", lr, lo=0.0, lo_open=True)
    N = len(data.y_train)
    batch = check_int("batch", batch, lo=2 if _has_bn(model) else 1, hi=N)
    momentum = check_real("momentum", momentum, lo=0.0, hi=1.0, hi_open=True)
    seed = check_int("seed", seed, lo=0)
    record_every = check_int("record_every", record_every, lo=0)
    gen = torch.Generator().manual_seed(seed if seed < 2**63 else Stream(seed, "training.batches").seed_of(0))
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    res = TrainResult()
    model.train()

    def mark(t):
        res.steps.append(t)
        for name, (xs, ys) in (("train", (data.x_train, data.y_train)), ("test", (data.x_test, data.y_test))):
            loss, acc = evaluate(model, xs, ys)
            getattr(res, f"{name}_loss").append(loss)
            getattr(res, f"{name}_acc").append(acc)
        res.records.append(record(t, model) if record is not None else None)

    elements = sum(p.numel() for p in model.parameters()) + batch * 64
    t0 = time.perf_counter()
    with thread_policy(elements):
        mark(0)
        perm, pos, t = torch.randperm(N, generator=gen), 0, 0
        while t < steps:
            if pos + batch > N:
                perm, pos = torch.randperm(N, generator=gen), 0
            idx = perm[pos:pos + batch]
            pos += batch
            opt.zero_grad(set_to_none=True)
            loss = nn.functional.cross_entropy(model(data.x_train[idx]), data.y_train[idx])
            value = float(loss.detach())
            if not math.isfinite(value):
                res.diverged_at = t
                break
            loss.backward()
            opt.step()
            res.batch_loss.append(value)
            t += 1
            if progress is not None:
                progress(t, steps)
            if record_every and t % record_every == 0 and t < steps:
                if not _finite(model):
                    res.diverged_at = t
                    break
                mark(t)
        if res.diverged_at is None and not _finite(model):
            res.diverged_at = t                      # the last update left a non-finite parameter
        if res.diverged_at is None and (not res.steps or res.steps[-1] != t):
            mark(t)
    res.seconds = time.perf_counter() - t0
    return res
