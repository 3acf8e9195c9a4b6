"""Kernel start to first executed cell: sandboxed (bubblewrap) kernel against a plain ipykernel, same run.

    .venv/bin/python benchmarks/kernel_start.py [--repeats N] [--json]

Each repeat starts a fresh KernelManager, waits for the reply to ``1 + 1`` and shuts the kernel down; the two
kinds alternate so that machine noise hits both alike. Everything (node, checkout, kernelspecs) lives in a
temporary folder. The target is a ratio of medians (sandboxed / plain) of at most 1.5.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _time_to_first_cell(kernel_name: str) -> float:
    from jupyter_client import KernelManager

    started = time.perf_counter()
    km = KernelManager(kernel_name=kernel_name)
    km.start_kernel(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        reply = kc.execute_interactive("1 + 1", timeout=60, output_hook=lambda msg: None)
        elapsed = time.perf_counter() - started
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"{kernel_name}: first cell failed: {reply['content']}")
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--json", action="store_true", help="print the summary as JSON only")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="eucaim-bench-") as tmp:
        root = Path(tmp)
        os.environ["JUPYTER_DATA_DIR"] = str(root / "jupyter-data")
        os.environ["JUPYTER_RUNTIME_DIR"] = str(root / "runtime")
        os.environ["EUCAIM_LAB_HOME"] = str(root / "node")
        checkout = root / "node" / "checkouts" / "bench"
        checkout.mkdir(parents=True)
        (checkout / "manifest.json").write_text(json.dumps({"checkout_id": "bench", "dataset_id": "bench-ds"}))

        from jupyter_client.kernelspec import KernelSpecManager

        from eucaim_lab.sandbox import install_checkout_kernel

        sandboxed = install_checkout_kernel("bench")["kernel_name"]
        plain_dir = root / "plain-spec"
        plain_dir.mkdir()
        (plain_dir / "kernel.json").write_text(json.dumps({
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "plain", "language": "python",
        }))
        KernelSpecManager().install_kernel_spec(str(plain_dir), "bench-plain", user=True)

        _time_to_first_cell("bench-plain")  # warm the file cache for both
        _time_to_first_cell(sandboxed)
        times: dict[str, list[float]] = {"plain": [], "sandboxed": []}
        for _ in range(args.repeats):
            times["plain"].append(_time_to_first_cell("bench-plain"))
            times["sandboxed"].append(_time_to_first_cell(sandboxed))

    summary = {
        "repeats": args.repeats,
        "plain_median_s": round(statistics.median(times["plain"]), 3),
        "sandboxed_median_s": round(statistics.median(times["sandboxed"]), 3),
        "plain_min_s": round(min(times["plain"]), 3),
        "sandboxed_min_s": round(min(times["sandboxed"]), 3),
    }
    summary["ratio_median"] = round(summary["sandboxed_median_s"] / summary["plain_median_s"], 3)
    summary["target_ratio"] = 1.5
    summary["meets_target"] = summary["ratio_median"] <= 1.5
    if args.json:
        print(json.dumps(summary))
    else:
        for key, value in summary.items():
            print(f"{key:>20}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
