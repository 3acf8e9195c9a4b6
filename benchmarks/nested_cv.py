"""Nested cross-validation: eucaim_lab.modelling.evaluate against a plain scikit-learn loop of the same design.

Design: 1,000 cases x 1,500 features, binary outcome; StandardScaler + LogisticRegression tuned over
C in {0.001, 0.01, 0.1, 1, 10}; 5 outer x 5 inner stratified folds. One row per patient, so the plain loop's StratifiedKFold and our
StratifiedGroupKFold describe the same design.

    .venv/bin/python benchmarks/nested_cv.py            # full size
    .venv/bin/python benchmarks/nested_cv.py --quick    # 300 x 300, for a smoke run

Ours runs the outer folds in parallel (n_jobs=2) with a text progress bar and additionally computes 1,000
patient-level bootstrap CIs and refits the final model on all data (its defaults); the plain loop only scores.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

# one BLAS thread per process for every contender: on a shared 2-core machine multi-threaded BLAS in the
# sequential loop oversubscribes the cores and measures contention rather than the validation design
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np
import pandas as pd


def _progress(done: int, total: int) -> None:
    width = 30
    filled = int(width * done / total)
    sys.stderr.write(f"\r  ours: [{'#' * filled}{'.' * (width - filled)}] {done}/{total} tasks")
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def _stop_workers() -> None:
    """Shut the joblib worker pool so that the next contender starts its own (no warm pool advantage)."""
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 cases x 300 features")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3, help="interleaved runs per contender (median reported)")
    args = parser.parse_args()

    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from eucaim_lab.modelling import evaluate

    n, p = (300, 300) if args.quick else (1000, 1500)
    X_arr, y = make_classification(n_samples=n, n_features=p, n_informative=20, n_redundant=20, flip_y=0.1,
                                   random_state=0)
    X = pd.DataFrame(X_arr, columns=[f"original_firstorder_F{i}" for i in range(p)])
    patients = np.array([f"P{i:04d}" for i in range(n)])
    grid = {"model__C": [0.001, 0.01, 0.1, 1.0, 10.0]}

    def pipeline() -> Pipeline:
        return Pipeline([("scale", StandardScaler()), ("model", LogisticRegression(max_iter=2000))])

    print(f"nested CV, {n} cases x {p} features, 5 outer x 5 inner folds, C grid {grid['model__C']}, "
          f"{args.runs} interleaved run(s) per contender")

    def plain(n_jobs: int | None) -> float:
        scores = cross_val_score(
            GridSearchCV(pipeline(), grid, cv=StratifiedKFold(5, shuffle=True, random_state=0), scoring="roc_auc"),
            X, y, cv=StratifiedKFold(5, shuffle=True, random_state=0), scoring="roc_auc", n_jobs=n_jobs,
        )
        return float(scores.mean())

    def ours(n_jobs: int | None) -> float:
        result = evaluate(pipeline(), X, y, groups=patients, param_grid=grid, cv=5, inner_cv=5, n_bootstrap=1000,
                          n_jobs=n_jobs, progress=_progress if n_jobs else None)
        return float(result.metrics.loc["auc", "estimate"])

    contenders = {
        "plain scikit-learn cross_val_score(GridSearchCV), sequential": lambda: plain(None),
        f"plain scikit-learn cross_val_score(GridSearchCV), n_jobs={args.n_jobs}": lambda: plain(args.n_jobs),
        "eucaim_lab evaluate, sequential": lambda: ours(None),
        f"eucaim_lab evaluate, n_jobs={args.n_jobs}, progress": lambda: ours(args.n_jobs),
    }
    times: dict[str, list[float]] = {name: [] for name in contenders}
    aucs: dict[str, float] = {}
    for _ in range(args.runs):
        for name, run in contenders.items():
            start = time.perf_counter()
            aucs[name] = run()
            times[name].append(time.perf_counter() - start)
            _stop_workers()
    medians = {name: float(np.median(values)) for name, values in times.items()}
    for name, values in times.items():
        print(f"  {name:<66} median {medians[name]:6.1f} s  (min {min(values):5.1f})  AUC {aucs[name]:.3f}")
    names = list(contenders)
    print(f"  speed-up of ours n_jobs={args.n_jobs} over the plain sequential loop: "
          f"{medians[names[0]] / medians[names[3]]:.2f}x; over plain n_jobs={args.n_jobs}: "
          f"{medians[names[1]] / medians[names[3]]:.2f}x")
    print("  (ours also computes 1,000 patient-bootstrap CIs and refits the final model on all data)")
    print(f"  machine: {os.cpu_count()} cores, load average now {os.getloadavg()[0]:.1f}; "
          f"BLAS threads per process: {os.environ['OPENBLAS_NUM_THREADS']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
