"""Benchmark: how close model updates after deleting training rows come to retraining.

What is measured (all in one run, baselines included):

1. **L2 logistic regression** (``LogisticRegression(C=1, tol=1e-8)``) on seeded synthetic data
   (20,000 x 50, a logistic label), with 1%, 3% and 5% of the rows deleted. The update is
   :func:`lester.maintenance.unlearning.update_model` (Newton steps); the baseline retrains
   the same estimator on the retained rows. Reported: the distance ratio
   ``||theta_upd - theta_ret|| / ||theta_orig - theta_ret||`` (target <= 0.05), the share of
   20,000 test predictions on which the updated and retrained models agree (target
   >= 0.999) and the median of 3 timings of each.
2. **The example's MLP** (``create_model`` of ``examples/creditcard/pipeline.py``: one hidden
   layer of 64 tanh units, the mean cross-entropy plus an L2 penalty of 0.3 minimised by
   full-batch L-BFGS to convergence) on random features (20,000 x 100, a learnable label;
   4,000 test rows), with 1% of the rows deleted, for 3 random draws. Training is seeded as
   the runner seeds it, so the retrained model starts from the same initial weights as the
   original and is retrained from scratch. Reported per update method: the same distance
   ratio (target < 1.0) and the test-accuracy difference to the retrained model (target
   within 1 point). Two references put them in scale: a fixed step of 1 instead of the line
   search, and the *retrain noise*, a second retrain from the same initial weights on the
   same rows in another order (for full-batch training only the summation order changes;
   for the mini-batch Adam the example used before, the batches changed and this noise was
   as large as the whole retrain distance, see ``README.md``).

BLAS and torch run single-threaded (``--threads``): on a shared 2-core machine, idle
threads spinning for work made both sides many times slower and the timings meaningless.

Run::

    python benchmarks/bench_unlearning_fidelity.py            # about 30 seconds
    python benchmarks/bench_unlearning_fidelity.py --quick    # 5,000 / 2,000 rows, 1 MLP draw

The last line reads ``RATIO logreg distance=<worst> (<=0.05) agreement=<worst> (>=0.999)
...; mlp distance=<mean> (<1.0) accuracy_diff=<mean>pt (<=1) ...``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from _common import print_table, timed
from lester.maintenance.unlearning import TrainingDelta, update_model
from lester.maintenance.updates import RETAINED_SAMPLE
from lester.pipeline import load_pipeline
from lester.runner.models import fit

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "creditcard" / "pipeline.py"
SEED = 42
LOGREG_FRACTIONS = (0.01, 0.03, 0.05)
TIMING_REPEATS = 3
MLP_FRACTION = 0.01
MLP_FEATURES = 100
MLP_TEST_ROWS = 4_000
TARGET_LOGREG_DISTANCE = 0.05
TARGET_AGREEMENT = 0.999
TARGET_MLP_DISTANCE = 1.0
TARGET_ACCURACY_POINTS = 1.0


# ---------------------------------------------------------------------------- logistic
def logistic_data(n: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian features and a label drawn from a logistic model (Bayes accuracy ~0.8)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    logits = X @ (rng.normal(size=d) * 2 / np.sqrt(d)) + 0.5
    return X, (rng.random(n) < 1 / (1 + np.exp(-logits))).astype(np.int64)


def logistic_parameters(model: LogisticRegression) -> np.ndarray:
    return np.append(model.coef_.ravel(), model.intercept_)


def median_seconds(func: Callable[[], Any], repeats: int = TIMING_REPEATS) -> tuple[float, Any]:
    """Median wall time of ``repeats`` runs and the last result."""
    runs = [timed(func) for _ in range(repeats)]
    return statistics.median(seconds for seconds, _ in runs), runs[-1][1]


def logistic_benchmark(n: int, d: int) -> list[dict[str, float]]:
    X, y = logistic_data(n, d, SEED)
    X_test, _ = logistic_data(20_000, d, SEED + 1)
    model = LogisticRegression(C=1.0, tol=1e-8, max_iter=1000).fit(X, y)
    results = []
    for fraction in LOGREG_FRACTIONS:
        rows = np.random.default_rng(SEED).choice(n, size=round(fraction * n), replace=False)
        delta = TrainingDelta.removal(X, y, rows)
        update_seconds, (updated, report) = median_seconds(lambda d=delta: update_model(model, d))
        retrain_seconds, retrained = median_seconds(
            lambda d=delta: clone(model).fit(d.X_after(), d.y_after())
        )
        original, target = logistic_parameters(model), logistic_parameters(retrained)
        distance = np.linalg.norm(logistic_parameters(updated) - target)
        results.append(
            {
                "fraction": fraction,
                "distance": distance / np.linalg.norm(original - target),
                "agreement": float(np.mean(updated.predict(X_test) == retrained.predict(X_test))),
                "residual": report.gradient_norm,
                "update_seconds": update_seconds,
                "retrain_seconds": retrain_seconds,
            }
        )
    return results


def print_logistic(results: Sequence[dict[str, float]], n: int, d: int) -> None:
    print(f"\n(1) L2 logistic regression, {n:,} x {d}, Newton update vs retraining")
    print_table(
        ["deleted", "distance ratio", "agreement", "gradient", "update s", "retrain s", "speed-up"],
        [
            [
                f"{r['fraction']:.0%}",
                f"{r['distance']:.2e}",
                f"{r['agreement']:.4f}",
                f"{r['residual']:.1e}",
                f"{r['update_seconds']:.3f}",
                f"{r['retrain_seconds']:.3f}",
                f"{r['retrain_seconds'] / r['update_seconds']:.1f}x",
            ]
            for r in results
        ],
    )


# ---------------------------------------------------------------------------- MLP
def load_create_model() -> Callable[[int], Any]:
    """``create_model`` of the example pipeline (importable by name, as the runner loads it)."""
    return load_pipeline(EXAMPLE).module.create_model


def mlp_data(n: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Float32 Gaussian features; the label is a noisy linear-plus-sine rule (learnable)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    score = X @ (rng.normal(size=d) * 3 / np.sqrt(d)) + np.sin(2 * X[:, 0])
    return X, (score + rng.normal(size=n) > 0).astype(np.int64)


def train(create_model: Callable[[int], Any], X: np.ndarray, y: np.ndarray, order_seed=None):
    """Train with torch seeded by ``SEED`` (the same initial weights every time); with
    ``order_seed``, on the same rows in a random order."""
    if order_seed is not None:
        order = np.random.default_rng(order_seed).permutation(len(y))
        X, y = X[order], y[order]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        return fit(create_model(X.shape[1]), X, y)


def flat(net: Any) -> np.ndarray:
    return torch.nn.utils.parameters_to_vector(net.module_.parameters()).detach().double().numpy()


MLP_METHODS: dict[str, dict[str, Any]] = {
    "first-order (default)": {},
    "first-order, tilted line search": {"line_search": "tilted"},
    "LiSSA (second_order=True)": {"second_order": True},
    "LiSSA, tilted line search": {"second_order": True, "line_search": "tilted"},
    "first-order, fixed step 1": {"step": 1.0, "budget": np.inf},
}
SAMPLED = f"first-order on a {RETAINED_SAMPLE:,}-row sample (as forget-values)"


def sampled_removal(X: np.ndarray, y: np.ndarray, rows: np.ndarray, seed: int) -> TrainingDelta:
    """The delta that maintenance hands to ``update_model`` for a network: the removed rows
    plus a random sample of the others, with ``rows_before=len(X)``."""
    others = np.setdiff1d(np.arange(len(X)), rows)
    sample = np.random.default_rng(seed).choice(others, RETAINED_SAMPLE, replace=False)
    kept = np.union1d(sample, rows)
    return TrainingDelta.removal(X[kept], y[kept], np.searchsorted(kept, rows))


@dataclass(frozen=True)
class Scored:
    """A model's distance ratio and test-accuracy difference (points) to the retrained one."""

    distance: float
    accuracy_points: float
    seconds: float


def mlp_benchmark(n: int, draws: int) -> dict[str, list[Scored]]:
    create_model = load_create_model()
    X, y = mlp_data(n + MLP_TEST_ROWS, MLP_FEATURES, SEED)
    X_train, y_train, X_test, y_test = X[:n], y[:n], X[n:], y[n:]
    original = train(create_model, X_train, y_train)
    names = [*MLP_METHODS, SAMPLED, "retrain noise"]
    scores: dict[str, list[Scored]] = {name: [] for name in names}
    scores["no update"] = []

    def accuracy(net: Any) -> float:
        return float(np.mean(net.predict(X_test) == y_test))

    for draw in range(draws):
        rows = np.random.default_rng(draw).choice(n, round(MLP_FRACTION * n), replace=False)
        delta = TrainingDelta.removal(X_train, y_train, rows)
        retrain_seconds, retrained = timed(
            lambda d=delta: train(create_model, d.X_after(), d.y_after())
        )
        target, reference = flat(retrained), accuracy(retrained)
        scale = np.linalg.norm(flat(original) - target)

        def score(net: Any, seconds: float, target=target, reference=reference, scale=scale):
            distance = np.linalg.norm(flat(net) - target) / scale
            return Scored(distance, abs(accuracy(net) - reference) * 100, seconds)

        scores["no update"].append(score(original, 0.0))
        for name, options in MLP_METHODS.items():
            seconds, (updated, _) = timed(
                lambda d=delta, o=options: update_model(original, d, create_model=create_model, **o)
            )
            scores[name].append(score(updated, seconds))
        sampled = sampled_removal(X_train, y_train, rows, seed=100 + draw)
        seconds, (updated, _) = timed(
            lambda d=sampled: update_model(original, d, create_model=create_model, rows_before=n)
        )
        scores[SAMPLED].append(score(updated, seconds))
        noise = train(create_model, delta.X_after(), delta.y_after(), order_seed=1000 + draw)
        scores["retrain noise"].append(score(noise, retrain_seconds))
    return scores


def print_mlp(scores: dict[str, list[Scored]], n: int, draws: int) -> None:
    print(
        f"\n(2) the example's MLP, {n:,} x {MLP_FEATURES}, {MLP_FRACTION:.0%} of the rows "
        f"deleted, mean of {draws} draws (distances to the retrained model, relative to the "
        f"original's; accuracy on {MLP_TEST_ROWS:,} test rows)"
    )
    rows = []
    for name, values in scores.items():
        rows.append(
            [
                name,
                f"{mean(values, 'distance'):.5f}",
                f"{min(v.distance for v in values):.5f}..{max(v.distance for v in values):.5f}",
                f"{mean(values, 'accuracy_points'):.2f}",
                f"{statistics.median(v.seconds for v in values):.3f}",
            ]
        )
    print_table(["model", "distance ratio", "min..max", "|accuracy diff| pt", "seconds"], rows)


# ---------------------------------------------------------------------------- main
def mean(values: Sequence[Scored], field: str) -> float:
    return statistics.mean(getattr(value, field) for value in values)


def ratio_line(logistic: Sequence[dict[str, float]], mlp: dict[str, list[Scored]]) -> str:
    """The summary: worst logistic fidelity, mean MLP fidelity of the default update, and
    the two MLP references (retrain noise, a fixed step of 1)."""
    worst_distance = max(r["distance"] for r in logistic)
    worst_agreement = min(r["agreement"] for r in logistic)
    speedup = statistics.median(r["retrain_seconds"] / r["update_seconds"] for r in logistic)
    default, noise = mlp["first-order (default)"], mlp["retrain noise"]
    mlp_speedup = statistics.median(
        n.seconds / v.seconds for n, v in zip(noise, default, strict=True)
    )
    return (
        f"RATIO logreg distance={worst_distance:.2g} (<={TARGET_LOGREG_DISTANCE}) "
        f"agreement={worst_agreement:.4f} (>={TARGET_AGREEMENT}) speedup={speedup:.1f}x; "
        f"mlp distance={mean(default, 'distance'):.5f} (<{TARGET_MLP_DISTANCE:g}) "
        f"accuracy_diff={mean(default, 'accuracy_points'):.2f}pt "
        f"(<={TARGET_ACCURACY_POINTS:g}) speedup={mlp_speedup:.0f}x; "
        f"sampled (forget-values) distance={mean(mlp[SAMPLED], 'distance'):.3f} "
        f"max={max(v.distance for v in mlp[SAMPLED]):.3f} "
        f"accuracy_diff={mean(mlp[SAMPLED], 'accuracy_points'):.2f}pt; "
        f"retrain-noise distance={mean(noise, 'distance'):.3f} "
        f"accuracy_diff={mean(noise, 'accuracy_points'):.2f}pt; "
        f"step-1 distance={mean(mlp['first-order, fixed step 1'], 'distance'):.2f}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fidelity of model updates vs retraining.")
    parser.add_argument("--quick", action="store_true", help="5,000-row logistic, 1 MLP draw")
    parser.add_argument("--threads", type=int, default=1, help="BLAS and torch threads")
    args = parser.parse_args(argv)
    n, d, mlp_rows, draws = (5_000, 50, 2_000, 1) if args.quick else (20_000, 50, 20_000, 3)
    torch.set_num_threads(args.threads)
    with threadpool_limits(limits=args.threads):
        logistic = logistic_benchmark(n, d)
        print_logistic(logistic, n, d)
        mlp = mlp_benchmark(mlp_rows, draws)
        print_mlp(mlp, mlp_rows, draws)
    print(ratio_line(logistic, mlp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
