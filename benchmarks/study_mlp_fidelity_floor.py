"""Study: why no update of the example's MLP gets clearly below the no-update distance.

Not a target benchmark (``make bench`` skips it): it measures, for a training recipe of the
example's network shape (one hidden layer of 64 units), how far a retrain on 99% of the rows
lands from the original (both from the same seeded initial weights) and how much of that
distance an *ideal* Newton update explains: ``theta - (G + wd I)^-1 g`` with ``g`` the gradient
of the retained objective at the original parameters and ``G`` the Gauss-Newton matrix,
solved by conjugate gradients with ``G`` from all retained rows (``full``) or from 1,024 of
them (``sample``, as many as maintenance reads; ``g`` still comes from all rows, which
maintenance could only afford if the runner stored the original's gradient at capture time).
A ratio near 1 means the retrain's distance is optimisation noise, not the data change, and
no update can follow it.

Training is full-batch L-BFGS (deterministic, no batch order) with an L2 penalty ``wd`` in
float32 (``--dtype float64`` for the ceiling), on the data of
``bench_unlearning_fidelity.py`` (20,000 x 100, 1% deleted).

Run::

    python benchmarks/study_mlp_fidelity_floor.py --activation relu --wd 0.01
    python benchmarks/study_mlp_fidelity_floor.py --activation tanh --wd 0.3

The last line reads ``RATIO newton_full=<r> newton_sample=<r> retrain_distance=<d>``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, grad, jvp, vjp

from bench_unlearning_fidelity import MLP_FEATURES, MLP_TEST_ROWS, SEED, mlp_data

ROWS = 20_000
HIDDEN = 64
SAMPLE = 1_024
ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU}


def network(activation: str, dtype: torch.dtype) -> nn.Module:
    torch.manual_seed(SEED)
    layers = [nn.Linear(MLP_FEATURES, HIDDEN), ACTIVATIONS[activation](), nn.Linear(HIDDEN, 2)]
    return nn.Sequential(*layers).to(dtype)


def train(module: nn.Module, X: torch.Tensor, y: torch.Tensor, wd: float, iters: int) -> int:
    """Full-batch L-BFGS on the mean cross-entropy plus ``wd / 2 * ||theta||^2``."""
    optimizer = torch.optim.LBFGS(
        module.parameters(),
        max_iter=iters,
        history_size=20,
        line_search_fn="strong_wolfe",
        tolerance_grad=1e-12,
        tolerance_change=0.0,
    )

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        penalty = sum(p.square().sum() for p in module.parameters())
        loss = nn.functional.cross_entropy(module(X), y) + 0.5 * wd * penalty
        loss.backward()
        return loss

    optimizer.step(closure)
    return int(optimizer.state[optimizer._params[0]]["func_evals"])


def conjugate_gradients(product: Callable, b: torch.Tensor, iters: int = 20) -> torch.Tensor:
    x, r = torch.zeros_like(b), b.clone()
    direction, rs = r.clone(), r @ r
    for _ in range(iters):
        Ad = product(direction)
        alpha = rs / (direction @ Ad)
        x, r = x + alpha * direction, r - alpha * Ad
        rs, previous = r @ r, rs
        direction = r + (rs / previous) * direction
    return x


class Objective:
    """The module's outputs and the penalised mean loss as functions of a flat vector."""

    def __init__(self, module: nn.Module, wd: float) -> None:
        self.module, self.wd = module, wd
        self.shapes = {name: p for name, p in module.named_parameters()}

    def outputs(self, theta: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
        params, offset = {}, 0
        for name, p in self.shapes.items():
            params[name] = theta[offset : offset + p.numel()].view_as(p)
            offset += p.numel()
        return functional_call(self.module, params, (X,))

    def gradient(self, theta: torch.Tensor, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        def loss(t: torch.Tensor) -> torch.Tensor:
            mean = nn.functional.cross_entropy(self.outputs(t, X), y)
            return mean + 0.5 * self.wd * t.square().sum()

        return grad(loss)(theta)

    def gauss_newton(self, theta: torch.Tensor, X: torch.Tensor) -> Callable:
        p = torch.softmax(self.outputs(theta, X), 1).detach()
        _, pullback = vjp(lambda t: self.outputs(t, X), theta)

        def product(v: torch.Tensor) -> torch.Tensor:
            _, Jv = jvp(lambda t: self.outputs(t, X), (theta,), (v,))
            HJv = (p * Jv - p * (p * Jv).sum(1, keepdim=True)) / X.shape[0]
            return pullback(HJv)[0] + self.wd * v

        return product


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--activation", choices=sorted(ACTIVATIONS), default="relu")
    parser.add_argument("--wd", type=float, default=0.01)
    parser.add_argument("--iters", type=int, default=200)
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    dtype = getattr(torch, args.dtype)
    X, y = mlp_data(ROWS + MLP_TEST_ROWS, MLP_FEATURES, SEED)
    X_all, y_all = torch.from_numpy(X[:ROWS]).to(dtype), torch.from_numpy(y[:ROWS])
    X_test, y_test = torch.from_numpy(X[ROWS:]).to(dtype), y[ROWS:]
    removed = np.random.default_rng(0).choice(ROWS, ROWS // 100, replace=False)
    kept = torch.from_numpy(np.setdiff1d(np.arange(ROWS), removed))

    started = time.perf_counter()
    original = network(args.activation, dtype)
    evaluations = train(original, X_all, y_all, args.wd, args.iters)
    seconds = time.perf_counter() - started
    retrained = network(args.activation, dtype)
    train(retrained, X_all[kept], y_all[kept], args.wd, args.iters)

    def flat(module: nn.Module) -> torch.Tensor:
        return nn.utils.parameters_to_vector(module.parameters()).detach()

    theta, target = flat(original), flat(retrained)
    objective = Objective(original, args.wd)
    distance = float((theta - target).norm())

    def accuracy(t: torch.Tensor) -> float:
        return float(np.mean(objective.outputs(t, X_test).argmax(1).numpy() == y_test))

    stationarity = float(objective.gradient(theta, X_all, y_all).norm())
    retained_gradient = objective.gradient(theta, X_all[kept], y_all[kept])
    full = theta - conjugate_gradients(
        objective.gauss_newton(theta, X_all[kept]), retained_gradient
    )
    sample = kept[torch.from_numpy(np.random.default_rng(1).choice(len(kept), SAMPLE, False))]
    partial = theta - conjugate_gradients(
        objective.gauss_newton(theta, X_all[sample]), retained_gradient
    )
    ratio_full = float((full - target).norm()) / distance
    ratio_sample = float((partial - target).norm()) / distance
    print(
        f"{args.activation}, wd={args.wd:g}, {args.dtype}: {evaluations} L-BFGS evaluations in "
        f"{seconds:.1f} s, gradient norm at the end {stationarity:.1e}, test accuracy "
        f"{accuracy(theta):.4f} (retrained {accuracy(target):.4f}); "
        f"||theta - theta_retrained|| = {distance:.4f} (||theta_retrained|| = "
        f"{float(target.norm()):.3f})"
    )
    print(
        f"RATIO newton_full={ratio_full:.3f} newton_sample={ratio_sample:.3f} "
        f"retrain_distance={distance:.4f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
