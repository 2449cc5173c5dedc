r"""Does β = Σ_j 1/n_j predict how fast a deep ReLU net starts training? (HR18, FM2; docs/theory.md §6)

HR18 (arXiv 1803.01719) claim that in fully connected ReLU nets with He fan-in weights the
variance of the activation length grows like e^{5β}, β = Σ_j 1/n_j over the hidden layers
(exactly: Var M_d/M_0² = Π_j (1 + 5/n_j) − 1, ``bounds.variance.length_moments``), and that nets
with large β are slow to start training while, at fixed β, depth matters little. This module
runs that experiment at small scale on CPU with scikit-learn's bundled digits:

* family ``constant-beta``: width = ⌊R·depth + ½⌋, so β ≈ 1/R whatever the depth;
* family ``constant-width``: one width W, β = depth/W grows with depth;
* or an explicit list of (width, depth) configurations.

The protocol, the same for every net (documented choices, not tuned per architecture):

* data: ``load_digits`` (1797 × 64, 10 classes, shipped inside scikit-learn: offline), a
  stratified train/test split fixed by ``seed`` (default 25 % test), features standardized with
  the training set's mean and standard deviation (constant features divided by 1);
* nets: ``depth`` hidden ReLU layers of ``width`` units and a linear 10-way output layer; every
  weight matrix, the output layer included, N(0, 2/fan-in) (He; ``nn.init.kaiming_normal_``'s
  law) drawn by the network core (:mod:`sim.core`), every bias zero; float64;
* training: plain SGD (no momentum, no weight decay), learning rate ``lr`` (default 0.05),
  minibatches of ``batch_size`` (default 32; each net draws its own permutation every epoch, the
  last batch of an epoch is the remainder), mean cross-entropy loss, at most ``epochs`` epochs;
* outcome: **epochs-to-threshold** = the first epoch e ∈ {0, 1, …, epochs} after which the
  **training accuracy** (argmax over the whole training set, evaluated after each full epoch;
  e = 0 is the initial net) is ≥ ``threshold`` (default 0.9). A net that never gets there is
  *censored*: it is known only to need more than ``epochs`` epochs, and is reported as such
  (``None`` in JSON), never as the cap. A net whose minibatch loss became non-finite is counted
  as diverged and cannot reach the threshold afterwards. Training of a configuration stops once
  every net has reached the threshold.

HR18 measured epochs to 20 % *test* accuracy on MNIST; we use training accuracy because the
claim is about optimization (starting to train), not generalization, and digits is small enough
for a higher threshold. The nets of one configuration are trained together as a batch (stacked
weights, ``torch.bmm``): every net has its own weights, minibatch order and loss, and SGD's update
is per-parameter, so this is exactly K independent trainings.

Seeds: ``seed`` fixes the data split, and configuration (width, depth) draws from the stream
``Stream(seed, "trainability").child("width=<w>,depth=<d>")``: net k's initial weights from its
child "init" (chunk k), its minibatch orders from its child "minibatches" (chunk k). So a
configuration's result does not depend on which other configurations run beside it, and a net's
does not depend on how many nets are trained with it.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from scipy import stats as st

from ..bounds.errors import DomainError, check_int, check_real
from ..bounds.variance import length_moments

from .core import Layer, NetworkSpec, Run, Stream, _check_stream, draw_params, forward
from .stats import clopper_pearson, median_ci

__all__ = ["TrainabilityConfig", "ConfigOutcome", "TrainabilityResult", "make_configs",
           "load_digits_split", "sample_he_mlps", "train_he_mlps", "estimate_trainability",
           "spearman_censored", "plot_trainability", "FAMILIES"]

FAMILIES = ("both", "constant-beta", "constant-width")
#: Confidence level of every interval this module reports.
LEVEL = 0.95


@dataclass(frozen=True)
class TrainabilityConfig:
    """One architecture: ``depth`` hidden ReLU layers of ``width`` units; ``families`` it serves."""
    width: int
    depth: int
    families: tuple = ("explicit",)


def make_configs(depths, *, family: str = "both", ratio: float = 8.0, width: int | None = None) -> list:
    """The configurations of one or both families, deduplicated by (width, depth).

    ``constant-beta``: width = ⌊ratio·depth + ½⌋ (β = depth/width, exactly 1/ratio when
    ratio·depth is an integer). ``constant-width``: width ``width`` for every depth (default
    ⌊ratio·min(depths) + ½⌋, so both families share their shallowest net). Sorted by family
    order, then depth.

    >>> [(c.width, c.depth, c.families) for c in make_configs([2, 4], ratio=8)]
    [(16, 2, ('constant-beta', 'constant-width')), (32, 4, ('constant-beta',)), (16, 4, ('constant-width',))]
    """
    if family not in FAMILIES:
        raise DomainError(f"family must be one of {', '.join(repr(f) for f in FAMILIES)}; got {family!r}")
    ds = [check_int(f"depths[{i}]", d, lo=1) for i, d in enumerate(depths)]
    if not ds:
        raise DomainError("depths must hold at least one depth; got none")
    ratio = check_real("ratio", ratio, lo=0.0, lo_open=True)
    if width is None:
        width = math.floor(ratio * min(ds) + 0.5)
        if width < 1:
            raise DomainError(f"ratio·min(depths) must round to a width ≥ 1; got {ratio:g}·{min(ds)}")
    width = check_int("width", width, lo=1)
    pairs: dict = {}
    fams = ("constant-beta", "constant-width") if family == "both" else (family,)
    for fam in fams:
        for d in sorted(set(ds)):
            w = math.floor(ratio * d + 0.5) if fam == "constant-beta" else width
            if w < 1:
                raise DomainError(f"ratio·depth must round to a width ≥ 1; got {ratio:g}·{d}")
            pairs.setdefault((w, d), []).append(fam)
    return [TrainabilityConfig(w, d, tuple(f)) for (w, d), f in pairs.items()]


def load_digits_split(seed: int, *, test_fraction: float = 0.25):
    """(X_train, y_train, X_test, y_test) torch tensors (float64 features, int64 labels).

    scikit-learn's bundled digits, a stratified split by ``seed`` (``train_test_split`` with
    ``random_state=seed``; any seed ≥ 2^32, beyond scikit-learn's range, is folded to 32 bits through
    ``Stream(seed, "trainability.split")``), features standardized with the training mean and
    standard deviation.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    seed = check_int("seed", seed, lo=0)
    test_fraction = check_real("test_fraction", test_fraction, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    d = load_digits()
    state = seed if seed < 2**32 else Stream(seed, "trainability.split").seed_of(0) % 2**32
    xtr, xte, ytr, yte = train_test_split(d.data, d.target, test_size=test_fraction, random_state=state,
                                          stratify=d.target)
    mu, sd = xtr.mean(axis=0), xtr.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    f = lambda a: torch.tensor((a - mu) / sd, dtype=torch.float64)  # noqa: E731
    return f(xtr), torch.tensor(ytr, dtype=torch.int64), f(xte), torch.tensor(yte, dtype=torch.int64)


def he_mlp_spec(input_dim: int, widths, n_out: int) -> NetworkSpec:
    """input_dim → widths (ReLU) → n_out (linear), He fan-in on every layer, no random biases."""
    return NetworkSpec(input_dim, (*widths, n_out), fan="in", linear_output=True)


def sample_he_mlps(input_dim: int, widths, n_out: int, nets: int, *, stream: Stream) -> list:
    """Stacked parameters of ``nets`` MLPs input_dim → widths → n_out, He fan-in, zero biases.

    Returns [Layer(W_1, b_1), …, Layer(W_{d+1}, b_{d+1})] with W_l of shape (nets, n_l, n_{l−1})
    (nn.Linear's (out, in) layout; ``sim.core.forward`` applies them) and b_l zeros of shape
    (nets, n_l). Net k is chunk k of ``stream`` (one net per chunk): its matrices are
    N(0, 2/fan-in) draws from ``stream.generator(k)``, layer by layer, the output layer too.

    >>> ps = sample_he_mlps(3, [4, 5], 2, 6, stream=Stream(0, "doc"))
    >>> [tuple(w.shape) for w, b in ps], float(ps[0][1].abs().max())
    ([(6, 4, 3), (6, 5, 4), (6, 2, 5)], 0.0)
    """
    input_dim = check_int("input_dim", input_dim, lo=1)
    n_out = check_int("n_out", n_out, lo=1)
    nets = check_int("nets", nets, lo=1)
    spec = he_mlp_spec(input_dim, [check_int(f"widths[{i}]", w, lo=1) for i, w in enumerate(widths)], n_out)
    batch = Run(_check_stream(stream), nets, network_elements=spec.weights_per_network, chunk=1).whole()
    return [Layer(W, torch.zeros(W.shape[:2], dtype=torch.float64)) for W, _ in draw_params(spec, batch)]


@torch.no_grad()
def _accuracy(spec, params, x, y) -> np.ndarray:
    out = forward(spec, x.unsqueeze(0), params)
    return (out.argmax(dim=2) == y).to(torch.float64).mean(dim=1).numpy()


@dataclass
class ConfigOutcome:
    """What K nets of one configuration did. ``epochs_to_threshold[k]`` is None when censored."""
    width: int
    depth: int
    families: tuple
    beta: float                      # Σ 1/n_j over the hidden layers (bounds.variance)
    var_ratio: float | None          # Var M_d/M_0² = Π(1 + 5/n_j) − 1 (None: overflow, see log)
    log_var_ratio: float
    nets: int
    epochs_cap: int
    epochs_to_threshold: list        # int or None (censored: needs more than epochs_cap)
    epochs_run: int
    train_accuracy: list             # per net, per epoch 0..epochs_run
    test_accuracy: list              # per net, per epoch 0..epochs_run
    diverged: int                    # nets whose minibatch loss became non-finite
    seconds: float

    @property
    def reached(self) -> int:
        return sum(e is not None for e in self.epochs_to_threshold)

    @property
    def p_reached(self) -> float:
        return self.reached / self.nets

    @property
    def p_reached_ci(self) -> tuple:
        return clopper_pearson(self.reached, self.nets, LEVEL)

    def _times(self) -> np.ndarray:
        return np.array([np.inf if e is None else e for e in self.epochs_to_threshold], dtype=float)

    @property
    def median_reached(self):
        """Median epochs among the nets that reached the threshold (None if none did)."""
        t = self._times()
        t = t[np.isfinite(t)]
        return float(np.median(t)) if t.size else None

    def _ci(self, t) -> tuple:
        """median_ci with a censored lower end reported as cap + 1 (a censored net needs at least
        that many epochs) and a censored upper end as None (no finite bound)."""
        if not t.size:
            return None, None
        lo, hi = median_ci(t, LEVEL)
        if lo is None:
            return None, None
        return (lo if math.isfinite(lo) else float(self.epochs_cap + 1)), (hi if math.isfinite(hi) else None)

    @property
    def median_reached_ci(self) -> tuple:
        """95 % interval for that median: (None, None) if no net reached it or too few did."""
        t = self._times()
        return self._ci(t[np.isfinite(t)])

    @property
    def median_all(self):
        """Median over all nets, a censored net counting as +∞ (None if that median is censored)."""
        m = float(np.median(self._times()))
        return m if math.isfinite(m) else None

    @property
    def median_all_ci(self) -> tuple:
        """95 % interval for that median; a lower end of cap + 1 means censored, an upper end of
        None means no finite bound; (None, None) when there are too few nets for 95 %."""
        return self._ci(self._times())

    def as_dict(self) -> dict:
        return {
            "width": self.width, "depth": self.depth, "families": list(self.families), "beta": self.beta,
            "var_ratio": self.var_ratio, "log_var_ratio": self.log_var_ratio, "nets": self.nets,
            "reached": self.reached, "p_reached": self.p_reached, "p_reached_ci": list(self.p_reached_ci),
            "median_epochs_reached": self.median_reached, "median_epochs_reached_ci": list(self.median_reached_ci),
            "median_epochs_all": self.median_all, "median_epochs_all_ci": list(self.median_all_ci),
            "epochs_to_threshold": list(self.epochs_to_threshold), "epochs_cap": self.epochs_cap,
            "epochs_run": self.epochs_run, "diverged": self.diverged, "seconds": self.seconds,
            "train_accuracy": self.train_accuracy, "test_accuracy": self.test_accuracy,
        }


def train_he_mlps(width: int, depth: int, data, *, nets: int, epochs: int, threshold: float, lr: float,
                  batch_size: int, stream: Stream, progress=None) -> ConfigOutcome:
    """Train ``nets`` He-initialized MLPs (``depth`` × ``width``) with plain SGD; epochs-to-threshold.

    ``data`` = (X_train, y_train, X_test, y_test) as from ``load_digits_split``. Net k's initial
    weights are chunk k of ``stream.child("init")`` (``sample_he_mlps``); every epoch it draws one
    permutation from its own generator, ``stream.child("minibatches").generator(k)``.
    ``progress(fraction)`` is called after each epoch with the fraction of the epoch cap done.
    The protocol is in the module docstring.
    """
    width = check_int("width", width, lo=1)
    depth = check_int("depth", depth, lo=1)
    nets = check_int("nets", nets, lo=1)
    epochs = check_int("epochs", epochs, lo=1)
    threshold = check_real("threshold", threshold, lo=0.0, hi=1.0, lo_open=True)
    lr = check_real("lr", lr, lo=0.0, lo_open=True)
    batch_size = check_int("batch_size", batch_size, lo=1)
    xtr, ytr, xte, yte = data
    n_classes = int(max(ytr.max(), yte.max())) + 1
    t0 = time.perf_counter()
    lm = length_moments([width] * depth)
    _check_stream(stream)
    spec = he_mlp_spec(xtr.shape[1], [width] * depth, n_classes)
    params = sample_he_mlps(xtr.shape[1], [width] * depth, n_classes, nets, stream=stream.child("init"))
    orders = [stream.child("minibatches").generator(k) for k in range(nets)]
    flat = [p.requires_grad_() for wb in params for p in wb]
    opt = torch.optim.SGD(flat, lr=lr, momentum=0.0, weight_decay=0.0)
    n = xtr.shape[0]
    hit = [None] * nets
    diverged = np.zeros(nets, dtype=bool)
    tr = [_accuracy(spec, params, xtr, ytr)]
    te = [_accuracy(spec, params, xte, yte)]

    def mark(e):        # a diverged net (non-finite loss, so non-finite weights) cannot reach it
        for k in range(nets):
            if hit[k] is None and not diverged[k] and tr[-1][k] >= threshold:
                hit[k] = e

    mark(0)
    e = 0
    while e < epochs and any(h is None for h in hit):
        e += 1
        perm = torch.stack([torch.randperm(n, generator=g) for g in orders])
        for i in range(0, n, batch_size):
            idx = perm[:, i:i + batch_size]
            out = forward(spec, xtr[idx], params)
            loss = torch.nn.functional.cross_entropy(out.reshape(-1, n_classes), ytr[idx].reshape(-1),
                                                     reduction="none").reshape(nets, -1).mean(dim=1)
            diverged |= ~torch.isfinite(loss.detach()).numpy()
            opt.zero_grad(set_to_none=True)
            loss.sum().backward()      # Σ_k loss_k: net k's gradient is that of its own loss
            opt.step()
        tr.append(_accuracy(spec, params, xtr, ytr))
        te.append(_accuracy(spec, params, xte, yte))
        mark(e)
        if progress:
            progress(e / epochs)
    return ConfigOutcome(
        width, depth, (), lm.beta, lm.var_ratio, lm.log_var_ratio, nets, epochs, hit, e,
        np.stack(tr, axis=1).tolist(), np.stack(te, axis=1).tolist(), int(diverged.sum()),
        time.perf_counter() - t0)


def spearman_censored(x, epochs, cap: int) -> dict:
    """Spearman ρ between ``x`` and epochs-to-threshold, censored values (None) ranked last.

    A censored net is only known to need more than ``cap`` epochs, i.e. more than every observed
    value (all are ≤ cap): it is given rank above every observed value, tied with the other
    censored nets (value cap + 1 is only that rank placeholder). ρ and its two-sided p-value are
    scipy's (t approximation, average ranks for ties; pairs assumed independent). Returns
    {"rho", "p_value", "n"}; rho and p_value are None when x or the epochs are constant.

    >>> d = spearman_censored([0.1, 0.2, 0.3, 0.4], [1, 2, 3, None], cap=5)
    >>> round(d["rho"], 12), d["n"]
    (1.0, 4)
    """
    cap = check_int("cap", cap, lo=0)
    xs = np.asarray(x, dtype=float).ravel()
    ys = np.array([cap + 1 if e is None else e for e in epochs], dtype=float)
    if xs.size != ys.size:
        raise DomainError(f"x and epochs must have the same length; got {xs.size} and {ys.size}")
    if not np.all(np.isfinite(xs)):
        raise DomainError("x must be finite")
    if (ys > cap + 1).any() or (ys < 0).any():
        raise DomainError(f"epochs must be integers in [0, {cap}] or None (censored)")
    if xs.size < 3 or np.ptp(xs) == 0 or np.ptp(ys) == 0:
        return {"rho": None, "p_value": None, "n": int(xs.size)}
    r = st.spearmanr(xs, ys)
    return {"rho": float(r.statistic), "p_value": float(r.pvalue), "n": int(xs.size)}


@dataclass
class TrainabilityResult:
    outcomes: list
    settings: dict
    association: dict = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {"settings": self.settings, "configs": [o.as_dict() for o in self.outcomes],
                "association": self.association, "seconds": self.seconds}


def estimate_trainability(configs, *, nets: int = 8, epochs: int = 20, threshold: float = 0.9,
                          lr: float = 0.05, batch_size: int = 32, seed: int = 0,
                          test_fraction: float = 0.25, progress=None) -> TrainabilityResult:
    """Run the HR18 trainability experiment on ``configs`` (``TrainabilityConfig`` or (width, depth)).

    Per configuration: β and Var M_d/M_0² from ``bounds.variance.length_moments``; the number of
    nets (of ``nets``) reaching ``threshold`` training accuracy within ``epochs`` epochs, with a
    Clopper–Pearson 95 % interval; the median epochs-to-threshold among those nets and over all
    nets (censored = more than the cap), each with a distribution-free 95 % order-statistic
    interval (``median_ci``). Association: Spearman ρ between β and epochs over every net
    (``spearman_censored``), and between depth and epochs within each family. The estimators'
    uncertainty is in those intervals and p-values; what the seed controls is in the module
    docstring. ``progress(done, total)`` counts nets (fractional within a configuration).

    >>> r = estimate_trainability([(8, 2)], nets=2, epochs=1, threshold=0.5)
    >>> o = r.outcomes[0]
    >>> o.beta, o.nets, len(o.epochs_to_threshold)
    (0.25, 2, 2)
    """
    cfgs = []
    for i, c in enumerate(configs):
        if not isinstance(c, TrainabilityConfig):
            try:
                w, d = c
            except (TypeError, ValueError):
                raise DomainError(f"configs[{i}] must be a TrainabilityConfig or a (width, depth) pair; got {c!r}")
            c = TrainabilityConfig(check_int(f"configs[{i}] width", w, lo=1), check_int(f"configs[{i}] depth", d, lo=1))
        cfgs.append(c)
    if not cfgs:
        raise DomainError("configs must hold at least one configuration; got none")
    nets = check_int("nets", nets, lo=1)
    epochs = check_int("epochs", epochs, lo=1)
    seed = check_int("seed", seed, lo=0)
    t0 = time.perf_counter()
    data = load_digits_split(seed, test_fraction=test_fraction)
    total = nets * len(cfgs)
    outcomes = []
    for i, c in enumerate(cfgs):
        cb = (lambda f, i=i: progress(nets * (i + f), total)) if progress else None
        o = train_he_mlps(c.width, c.depth, data, nets=nets, epochs=epochs, threshold=threshold, lr=lr,
                          batch_size=batch_size, stream=Stream(seed, "trainability").child(f"width={c.width},depth={c.depth}"),
                          progress=cb)
        o.families = c.families
        outcomes.append(o)
        if progress:
            progress(nets * (i + 1), total)
    settings = {
        "data": "scikit-learn load_digits, standardized by training statistics",
        "n_train": int(data[0].shape[0]), "n_test": int(data[2].shape[0]), "test_fraction": test_fraction,
        "accuracy": "training accuracy after each epoch (epoch 0 = at initialization)",
        "threshold": threshold, "epochs_cap": epochs, "optimizer": "SGD (no momentum, no weight decay)",
        "lr": lr, "batch_size": batch_size, "nets_per_config": nets, "seed": seed,
        "init": "He N(0, 2/fan-in) (kaiming_normal_'s law) on every layer (output included), zero biases, float64",
        "level": LEVEL,
    }
    assoc = {"beta_vs_epochs": spearman_censored(
        [o.beta for o in outcomes for _ in range(o.nets)],
        [e for o in outcomes for e in o.epochs_to_threshold], epochs)}
    fams = sorted({f for o in outcomes for f in o.families}, key=lambda f: (f not in FAMILIES, f))
    assoc["depth_vs_epochs"] = {}
    for f in fams:
        mem = [o for o in outcomes if f in o.families]
        assoc["depth_vs_epochs"][f] = spearman_censored(
            [o.depth for o in mem for _ in range(o.nets)], [e for o in mem for e in o.epochs_to_threshold], epochs)
    return TrainabilityResult(outcomes, settings, assoc, time.perf_counter() - t0)


def plot_trainability(result: TrainabilityResult, path: str | None = None):
    """Three panels: median epochs-to-threshold (all nets) vs β and vs depth per family, and the
    fraction of nets reaching the threshold vs β, with their 95 % intervals.

    A median that is censored (at least half the nets never reached the threshold) is drawn as a
    hollow triangle above the cap; an unbounded interval end is drawn up to that line.
    """
    from .plots import caption, new_figure, save_figure, style

    with style():
        fig = _draw_trainability(result, new_figure)
        caption(fig, f"HR18 trainability on digits: SGD lr {result.settings['lr']:g}, batch "
                     f"{result.settings['batch_size']}, {result.settings['nets_per_config']} nets per config, "
                     f"seed {result.settings['seed']}")
        save_figure(fig, path)
    return fig


def _draw_trainability(result: TrainabilityResult, new_figure):
    cap = result.settings["epochs_cap"]
    top = cap + 1
    colors = {"constant-beta": "tab:blue", "constant-width": "tab:red", "explicit": "tab:green"}
    fams = sorted({f for o in result.outcomes for f in o.families})
    fig, axes = new_figure(3, width=5.0, height=4.6)

    markers = {"constant-beta": "s", "constant-width": "o", "explicit": "D"}
    labels: dict = {}        # (panel, x, y) → [(text, colour)]: one annotation per point

    def label(i, x, y, text, col):
        labels.setdefault((i, round(x, 9), round(y, 9)), []).append((text, col))

    def draw(ax, xkey, fam, label_points):
        mem = sorted((o for o in result.outcomes if fam in o.families), key=lambda o: xkey(o))
        col, mk = colors.get(fam, "tab:gray"), markers.get(fam, "o")
        xs, ys = [], []
        for o in mem:
            m = o.median_all
            lo, hi = o.median_all_ci
            y = top if m is None else m
            lo_v = y if (lo is None and m is None) else (0.0 if lo is None else lo)
            hi_v = top if hi is None else hi
            ax.errorbar([xkey(o)], [y], yerr=[[max(y - lo_v, 0.0)], [max(hi_v - y, 0.0)]], fmt="^" if m is None else mk,
                        mfc="none" if m is None else col, color=col, capsize=3)
            if label_points:
                label(0, xkey(o), y, f"{o.width}×{o.depth}", col)
            xs.append(xkey(o))
            ys.append(y)
        ax.plot(xs, ys, "-", color=col, alpha=0.5, label=fam)

    for fam in fams:
        draw(axes[0], lambda o: o.beta, fam, True)
        draw(axes[1], lambda o: o.depth, fam, False)
        mem = sorted((o for o in result.outcomes if fam in o.families), key=lambda o: o.beta)
        col, mk = colors.get(fam, "tab:gray"), markers.get(fam, "o")
        for o in mem:
            lo, hi = o.p_reached_ci
            axes[2].errorbar([o.beta], [o.p_reached], yerr=[[o.p_reached - lo], [hi - o.p_reached]], fmt=mk,
                             mfc="none", color=col, capsize=3)
            label(2, o.beta, o.p_reached, f"{o.width}×{o.depth}", col)
        axes[2].plot([o.beta for o in mem], [o.p_reached for o in mem], "-", color=col, alpha=0.5, label=fam)
    # points that share an x (e.g. 16×2 and 32×4 at β = 0.125) get their labels stacked, not overlaid
    stacked: dict = {}
    for (i, x, y), items in sorted(labels.items(), key=lambda kv: (kv[0][0], kv[0][1], -kv[0][2])):
        texts = list(dict.fromkeys(t for t, _ in items))
        cols = {c for _, c in items}
        k = stacked.get((i, x), 0)
        stacked[(i, x)] = k + 1
        axes[i].annotate(", ".join(texts), (x, y), textcoords="offset points",
                         xytext=(6, (-10 if i == 2 else 3) - 9 * k), fontsize=7,
                         color=cols.pop() if len(cols) == 1 else "black")
    thr = result.settings["threshold"]
    for ax in axes[:2]:
        ax.axhline(top, color="grey", ls=":", lw=1)
        ax.set_ylim(bottom=-0.5, top=top + 1)
        ax.set_ylabel(f"median epochs to {thr:g} train acc., all nets (95% CI)")
        ax.legend(fontsize=8)
    axes[0].set_xlabel("β = Σ 1/n_j")
    axes[0].set_title(f"vs β (width×depth; ▲ at {top}: censored)", fontsize=10)
    axes[1].set_xlabel("depth")
    axes[1].set_xscale("log", base=2)
    axes[1].set_title("vs depth, per family", fontsize=10)
    axes[2].set_xlabel("β = Σ 1/n_j")
    axes[2].set_ylabel(f"fraction of nets reaching {thr:g} within {cap} epochs")
    axes[2].set_ylim(-0.05, 1.05)
    axes[2].set_title("fraction reaching it (Clopper–Pearson 95%)", fontsize=10)
    axes[2].legend(fontsize=8)
    fig.suptitle("HR18: epochs to a training-accuracy threshold against β = Σ 1/n_j")
    return fig
