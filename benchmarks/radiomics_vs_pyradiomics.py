"""Radiomics extraction: eucaim-lab on Dask against the pyradiomics command line, same cases, settings and processes.

Cases: the 30 ROIs of ../shared/data/sts-cohort (CT, MR T1, PET with RTSTRUCT; loaded with eucaim_lab.imaging and
exported to NRRD in a temporary folder) plus pyradiomics' brain1, brain2 and breast1. Settings: pyradiomics defaults.

Measured in one run: our cold-cache wall time vs ``pyradiomics batch.csv --jobs N`` (checking every feature is
identical), the warm-cache re-run, Dask overhead per task (no-op tasks), 1 vs 2 workers, and the same extraction on a
real ``dask scheduler`` + ``dask worker`` started as separate processes on 127.0.0.1.

    .venv/bin/python benchmarks/radiomics_vs_pyradiomics.py [--jobs 2] [--repeat 1]
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("EUCAIM_SHARED_DATA", REPO.parent / "shared" / "data"))
VENV_BIN = Path(sys.executable).parent


def export_cases(out: Path) -> Path:
    """NRRD image + mask per case, and a pyradiomics batch CSV listing them."""
    import SimpleITK as sitk

    from eucaim_lab.imaging import discover_cases

    rows = []
    sts = discover_cases(SHARED / "sts-cohort")
    sts = [c for c in sts if "_mirp_masks" not in c.image.paths[0]]
    for case in sts:
        image, mask = case.load()
        img_p, msk_p = out / f"{case.case_id}_image.nrrd", out / f"{case.case_id}_mask.nrrd"
        sitk.WriteImage(image, str(img_p), True)
        sitk.WriteImage(mask, str(msk_p), True)
        rows.append((case.case_id, img_p, msk_p))
    for name in ("brain1", "brain2", "breast1"):
        rows.append((name, SHARED / "pyradiomics" / f"{name}_image.nrrd", SHARED / "pyradiomics" / f"{name}_label.nrrd"))
    batch = out / "batch.csv"
    with batch.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["ID", "Image", "Mask"])
        w.writerows(rows)
    return batch


def run_ours(batch: Path, cache: Path | bool, workers: int | None = None, client: object = None):
    from eucaim_lab.radiomics import extract

    t0 = time.perf_counter()
    df = extract(str(batch), "default", client, workers=workers, cache=cache, progress=False)
    return time.perf_counter() - t0, df


def run_pyradiomics(batch: Path, jobs: int, out_csv: Path, one_thread: bool = False) -> float:
    """Wall time of the pyradiomics console script; ``one_thread`` pins ITK/BLAS to one thread per process as we do."""
    out_csv.unlink(missing_ok=True)
    env = dict(os.environ)
    if one_thread:
        env.update({"ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"})
    t0 = time.perf_counter()
    subprocess.run([str(VENV_BIN / "pyradiomics"), str(batch), "--jobs", str(jobs), "-o", str(out_csv), "-f", "csv",
                    "--logging-level", "ERROR"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env=env)
    return time.perf_counter() - t0


def compare(ours, ref_csv: Path) -> tuple[int, int, float]:
    """(cases compared, features compared, max relative difference)."""
    import numpy as np
    import pandas as pd

    ref = pd.read_csv(ref_csv).set_index("ID")
    mine = ours.set_index("case_id")
    feats = [c for c in mine.columns if c.startswith("original_")]
    worst, n = 0.0, 0
    for cid in mine.index:
        if mine.loc[cid, "status"] != "ok":
            continue
        a = mine.loc[cid, feats].to_numpy(float)
        b = ref.loc[cid, feats].to_numpy(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(a == b, 0.0, np.abs(a - b) / np.maximum(np.abs(b), 1e-300))
        worst = max(worst, float(np.nanmax(rel)))
        n += 1
    return n, len(feats), worst


def noop(x: int) -> int:
    return x


def dask_overhead(n_tasks: int = 2000) -> float:
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                      silence_logs=50) as lc, Client(lc) as client:
        client.gather(client.map(noop, range(50), pure=False))  # warm up
        t0 = time.perf_counter()
        client.gather(client.map(noop, range(n_tasks), pure=False))
        return (time.perf_counter() - t0) / n_tasks


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def real_cluster_run(batch: Path, cache: Path, nworkers: int) -> tuple[float, float, object]:
    """Start ``dask scheduler`` and ``dask worker`` processes on loopback, run there, stop them (by their pid)."""
    from distributed import Client

    port = _free_port()
    addr = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS": "1", "PYTHONPATH": str(REPO)}
    dask = str(VENV_BIN / "dask")
    procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        t_start = time.perf_counter()
        time.sleep(0.5)
        # --preload imports pyradiomics & co. when each worker starts, as a deployment would (see extract's docs)
        procs.append(subprocess.Popen([dask, "worker", addr, "--nworkers", str(nworkers), "--nthreads", "1",
                                       "--no-dashboard", "--preload", "eucaim_lab.radiomics._worker"], env=env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))
        with Client(addr, timeout=60) as client:
            client.wait_for_workers(nworkers, timeout=120)
            startup = time.perf_counter() - t_start
            wall, df = run_ours(batch, cache, client=client)
        return startup, wall, df
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


def _median(xs: list[float]) -> float:
    import statistics

    return statistics.median(xs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=2, help="processes for both engines")
    ap.add_argument("--repeat", type=int, default=3, help="interleaved repetitions (medians are reported)")
    ap.add_argument("--workdir", default=None, help="keep the exported NRRD cases here and reuse them")
    args = ap.parse_args()
    n = args.jobs
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"load average before: {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="radiomics-bench-") as tmp_s:
        tmp = Path(tmp_s)
        work = Path(args.workdir) if args.workdir else tmp / "cases"
        work.mkdir(parents=True, exist_ok=True)
        batch = work / "batch.csv"
        if not batch.is_file():
            t0 = time.perf_counter()
            batch = export_cases(work)
            print(f"exported the cases to NRRD in {time.perf_counter() - t0:.1f}s")
        n_cases = sum(1 for _ in batch.open()) - 1

        py, cold, warm = [], [], []
        for r in range(args.repeat):  # interleaved, so that load from elsewhere hits both engines alike
            py.append(run_pyradiomics(batch, n, tmp / "pyradiomics.csv"))
            t, cold_df = run_ours(batch, tmp / f"cache-{r}", workers=n)
            cold.append(t)
            t, warm_df = run_ours(batch, tmp / f"cache-{r}", workers=n)
            warm.append(t)
            print(f"  repeat {r + 1}: pyradiomics {py[-1]:.2f} s, ours cold {cold[-1]:.2f} s, warm {warm[-1]:.2f} s")
        n_cmp, n_feat, worst = compare(cold_df, tmp / "pyradiomics.csv")
        failed = int((cold_df["status"] != "ok").sum())
        print(f"\n{n_cases} cases, default settings, N={n} processes, median of {args.repeat}")
        print(f"pyradiomics batch --jobs {n}: {_median(py):7.2f} s")
        print(f"eucaim-lab extract (cold):   {_median(cold):7.2f} s   speed-up vs pyradiomics "
              f"{_median(py) / _median(cold):5.2f}x   (failed cases: {failed})")
        print(f"eucaim-lab extract (warm):   {_median(warm):7.2f} s   warm vs cold {_median(cold) / _median(warm):6.1f}x"
              f"   (computed {warm_df.attrs['computed']}, from cache {warm_df.attrs['from_cache']})")
        print(f"best of {args.repeat} (least disturbed by other load): pyradiomics {min(py):.2f} s, ours cold "
              f"{min(cold):.2f} s ({min(py) / min(cold):.2f}x), warm {min(warm):.2f} s ({min(cold) / min(warm):.1f}x)")
        print(f"features identical: {n_cmp} cases x {n_feat} features, max relative difference {worst:.2e}")

        t1, _ = run_ours(batch, False, workers=1)
        t_py1 = run_pyradiomics(batch, 1, tmp / "pyradiomics1.csv")
        t_py1_pinned = run_pyradiomics(batch, 1, tmp / "pyradiomics1.csv", one_thread=True)
        t2, _ = run_ours(batch, False, workers=2)
        t_py2_pinned = run_pyradiomics(batch, n, tmp / "pyradiomics2.csv", one_thread=True)
        print(f"\nscaling (no cache): ours 1 worker {t1:.2f} s, 2 workers {t2:.2f} s, speed-up {t1 / t2:.2f}x")
        print(f"pyradiomics --jobs 1: {t_py1:.2f} s with its default ITK threads (= cores), {t_py1_pinned:.2f} s "
              f"pinned to 1 thread (ours at 1 worker: {t_py1_pinned / t1:.2f}x of the pinned run)")
        print(f"pyradiomics --jobs {n} pinned to 1 thread per process: {t_py2_pinned:.2f} s "
              f"(ours at {n} workers: {t_py2_pinned / t2:.2f}x)")

        per_task = dask_overhead()
        print(f"Dask overhead per no-op task (2 workers): {per_task * 1e3:.2f} ms")

        startup, t_real, real = real_cluster_run(batch, tmp / "cache-real", n)
        t_py_again = run_pyradiomics(batch, n, tmp / "pyradiomics.csv")
        ok = int((real["status"] == "ok").sum())
        print(f"\nreal cluster (dask scheduler + dask worker --nworkers {n} on 127.0.0.1): start-up {startup:.1f} s, "
              f"extract {t_real:.2f} s ({ok}/{len(real)} ok); pyradiomics right after {t_py_again:.2f} s "
              f"({t_py_again / t_real:.2f}x, cluster start-up not counted)")
        print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
