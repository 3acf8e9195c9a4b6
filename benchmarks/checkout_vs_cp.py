"""Checkout time against ``cp -r`` of the same tree, in the same run: checkout should follow file count, not bytes.

A generated dataset (sparse files: a hole, then a unique 4 KiB tail) is registered in a fresh local node as
the catalogue does after ingest (``Catalogue.add`` with per-file SHA3 rows), requested and approved (approval
checks the datalake bytes once and records each file's stat), then checked out. In the same run the dataset folder
is copied with ``cp -r`` (GNU cp skips holes on its own) and with ``cp -al`` (hard-link tree, the floor).

    .venv/bin/python benchmarks/checkout_vs_cp.py [--runs 50000x10G 5000x10G 5000x1G] [--keep]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

HEADER = 4096
PER_SERIES = 100


def _parse_run(text: str) -> tuple[int, int]:
    files, _, size = text.lower().partition("x")
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    nbytes = int(float(size[:-1]) * units[size[-1]]) if size[-1] in units else int(size)
    return int(files), nbytes


def build_tree(root: Path, n_files: int, total_bytes: int, *, sparse: bool = True, seed: int = 1) -> list[tuple]:
    """Write ``n_files`` files of ``total_bytes`` in all under ``root`` in the datalake layout; returns file rows
    ``(relpath, series_uid, sop_uid, size, sha3)``. A sparse file is a hole followed by a unique 4 KiB tail, so its
    digest is the shared digest state of the zero prefix plus the tail; a dense file is random bytes."""
    size = max(HEADER, total_bytes // n_files)
    prefix = hashlib.sha3_256()
    if sparse:
        zeros = b"\0" * (1 << 20)
        left = size - HEADER
        while left:
            n = min(left, len(zeros))
            prefix.update(zeros[:n])
            left -= n
    rows = []
    for i in range(n_files):
        subject, series_no = divmod(i // PER_SERIES, 10)
        series_uid = f"2.25.{seed}{subject:05d}{series_no:02d}"
        rel = f"S{subject:05d}/2.25.{seed}{subject:05d}/{series_uid}/2.25.{seed}{i:08d}.dcm"
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as fh:
            if sparse:
                tail = hashlib.sha3_256(f"{seed}-{i}".encode()).digest() * (HEADER // 32)
                fh.seek(size - HEADER)
                fh.write(tail)
                h = prefix.copy()
                h.update(tail)
            else:
                body = os.urandom(size)
                fh.write(body)
                h = hashlib.sha3_256(body)
        os.chmod(path, 0o444)
        rows.append((rel, series_uid, f"2.25.{seed}{i:08d}", size, h.hexdigest()))
    return rows


def register(cat: Any, dataset_id: str, root: Path, rows: list[tuple], *, access_condition: str = "DOWNLOAD") -> None:
    """Register a built tree in the catalogue the way ingest does (record, series, files)."""
    from eucaim_lab.catalogue import DatasetRecord
    from eucaim_lab.catalogue._ingest import dataset_digest

    series: dict[str, dict[str, Any]] = {}
    for rel, series_uid, _, size, _ in rows:
        folder = rel.rsplit("/", 1)[0]
        s = series.setdefault(series_uid, {
            "series_uid": series_uid, "study_uid": folder.split("/")[1], "patient_id": folder.split("/")[0],
            "modality": "CT", "kind": "image", "files_count": 0, "size_bytes": 0, "folder": folder, "tags": {},
        })
        s["files_count"] += 1
        s["size_bytes"] += size
    subjects = sorted({r[0].split("/")[0] for r in rows})
    record = DatasetRecord.build(
        identifier=dataset_id, title=f"benchmark {dataset_id}", description="generated sparse files",
        data_holder="bench-holder", access_condition=access_condition, files_count=len(rows),
        series_count=len(series), subjects_count=len(subjects), studies_count=len(subjects),
        size_bytes=sum(r[3] for r in rows), checksum="sha3-256:" + dataset_digest([(r[0], r[4]) for r in rows]),
    )
    cat.add(record, root=root, series=series.values(), files=rows, subjects=[(s, {}) for s in subjects])


def _timed(fn: Any) -> tuple[float, Any]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def _du(path: Path) -> int:
    return int(subprocess.run(["du", "-sk", str(path)], capture_output=True, text=True, check=True).stdout.split()[0])


def one_run(base: Path, n_files: int, total_bytes: int) -> dict[str, Any]:
    from eucaim_lab import access, checkout
    from eucaim_lab._node import Node
    from eucaim_lab.catalogue import Catalogue

    tag = f"{n_files}-{total_bytes >> 20}m"
    node = Node(base / f"node-{tag}")
    cat = Catalogue(node=node)
    dataset_id = f"bench-{tag}"
    root = node.datalake / dataset_id / "1.0.0"
    t_build, rows = _timed(lambda: build_tree(root, n_files, total_bytes))
    register(cat, dataset_id, root, rows)
    req = access.request([dataset_id], "benchmark", user="bench-user", node=node)
    t_approve, _ = _timed(lambda: access.approve(req.request_id, "bench-holder", node=node))
    t_co1, [co1] = _timed(lambda: checkout.checkout(req.request_id, user="bench-user", node=node))
    t_co2, [co2] = _timed(lambda: checkout.checkout(req.request_id, user="bench-user", node=node))
    dest = base / f"cp-{tag}"
    t_cp, _ = _timed(lambda: subprocess.run(["cp", "-r", str(root), str(dest)], check=True))
    dest_al = base / f"cpal-{tag}"
    t_cpal, _ = _timed(lambda: subprocess.run(["cp", "-al", str(root), str(dest_al)], check=True))
    result = {
        "files": n_files, "apparent_bytes": sum(r[3] for r in rows), "disk_kib_datalake": _du(root),
        "build_s": round(t_build, 2), "approve_s": round(t_approve, 2),
        "checkout_s": round(t_co1, 2), "checkout_again_s": round(t_co2, 2), "cp_r_s": round(t_cp, 2),
        "cp_al_s": round(t_cpal, 2), "link_mode": co1.link_mode, "checkout_files": co1.files_count,
        "checkout_ms_per_1000_files": round(1000 * t_co1 / n_files * 1000, 1),
    }
    for folder in (co1.path, co2.path):
        for d, _, _ in os.walk(folder):
            os.chmod(d, 0o755)
    node.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", default=["50000x10G", "5000x10G", "5000x1G"],
                        help="FILESxSIZE, e.g. 50000x10G")
    parser.add_argument("--dir", help="work folder (default: a temporary folder under /tmp)")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="eucaim-bench-co-", dir=args.dir))
    results = []
    try:
        for spec in args.runs:
            n_files, total = _parse_run(spec)
            results.append(one_run(base, n_files, total))
            print(json.dumps(results[-1]), flush=True)
    finally:
        if not args.keep:
            for d, _, _ in os.walk(base):
                os.chmod(d, 0o755)
            shutil.rmtree(base, ignore_errors=True)
    print(f"\n{platform.platform()}, {os.cpu_count()} CPUs")
    print("| files | apparent size | approve (hashes once) | checkout | checkout again | cp -r | cp -al |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['files']:,} | {r['apparent_bytes'] / 2**30:.1f} GiB | {r['approve_s']} s | {r['checkout_s']} s "
              f"| {r['checkout_again_s']} s | {r['cp_r_s']} s | {r['cp_al_s']} s |")


if __name__ == "__main__":
    main()
