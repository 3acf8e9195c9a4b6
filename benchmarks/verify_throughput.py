"""``checkout.verify`` throughput (MB/s) against plain SHA3-256 tools over the same files, in the same run.

A dataset of real (random, incompressible) bytes is registered, approved and checked out; then, with the files in
the page cache (a warm-up read first), the same bytes are hashed by:
- ``checkout.verify`` (threads, one file per task, plus the walk for missing/extra files and the audit entry);
- hashlib in a plain single-threaded loop;
- ``sha3sum`` if installed, else ``openssl dgst -sha3-256`` (one process over all files, via xargs).

    .venv/bin/python benchmarks/verify_throughput.py [--files 2000] [--size 1G]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from checkout_vs_cp import _parse_run, build_tree, register


def _tool() -> list[str] | None:
    if shutil.which("sha3sum"):
        return ["sha3sum", "-a", "256"]
    if shutil.which("openssl"):
        return ["openssl", "dgst", "-sha3-256"]
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--size", default="1G", help="total bytes, e.g. 1G")
    parser.add_argument("--repeat", type=int, default=2, help="best of N timings")
    args = parser.parse_args()
    _, total = _parse_run(f"{args.files}x{args.size}")

    from eucaim_lab import access, checkout
    from eucaim_lab._node import Node
    from eucaim_lab.catalogue import Catalogue

    base = Path(tempfile.mkdtemp(prefix="eucaim-bench-verify-"))
    try:
        node = Node(base / "node")
        root = node.datalake / "verify-bench" / "1.0.0"
        rows = build_tree(root, args.files, total, sparse=False)
        register(Catalogue(node=node), "verify-bench", root, rows)
        req = access.request(["verify-bench"], "benchmark", user="bench-user", node=node)
        access.approve(req.request_id, "bench-holder", node=node)
        [co] = checkout.checkout(req.request_id, user="bench-user", node=node)
        paths = [co.path / r[0] for r in rows]
        nbytes = sum(r[3] for r in rows)
        for p in paths:  # warm the page cache
            p.read_bytes()

        def best(fn):
            times = []
            for _ in range(args.repeat):
                t = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t)
            return min(times)

        results = {}
        report = None

        def run_verify():
            nonlocal report
            report = checkout.verify(co.checkout_id, node=node)

        results["checkout.verify"] = best(run_verify)
        assert report is not None and report.ok

        def plain_loop():
            for p in paths:
                with open(p, "rb") as fh:
                    hashlib.file_digest(fh, "sha3_256").hexdigest()

        results["hashlib loop (1 thread)"] = best(plain_loop)
        tool = _tool()
        if tool:
            listing = base / "files.txt"
            listing.write_text("\0".join(str(p) for p in paths))

            def run_tool():
                with listing.open("rb") as fh:
                    subprocess.run(["xargs", "-0", *tool], stdin=fh, stdout=subprocess.DEVNULL, check=True)

            results[" ".join(tool)] = best(run_tool)
        print(json.dumps({"files": args.files, "bytes": nbytes, "seconds": results}))
        print(f"\n{platform.platform()}, {os.cpu_count()} CPUs, {args.files} files, {nbytes / 1e6:.0f} MB (page cache)")
        print("| hasher | seconds | MB/s |")
        print("|---|---:|---:|")
        for name, secs in results.items():
            print(f"| {name} | {secs:.2f} | {nbytes / 1e6 / secs:.0f} |")
        node.close()
    finally:
        for d, _, _ in os.walk(base):
            os.chmod(d, 0o755)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
