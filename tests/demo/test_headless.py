"""``eucaim-lab demo --headless``: the whole path from an empty node to a validated model, through the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


@pytest.mark.sandbox
@pytest.mark.slow
def test_headless_demo_runs_the_whole_workflow(tmp_path):
    env = {**os.environ, "EUCAIM_LAB_HOME": str(tmp_path / "node"), "JUPYTER_DATA_DIR": str(tmp_path / "jupyter"),
           "EUCAIM_LAB_USER": "researcher"}
    out = subprocess.run([sys.executable, "-m", "eucaim_lab.cli", "demo", "--headless"], capture_output=True,
                         text=True, env=env, timeout=900)
    assert out.returncode == 0, out.stderr[-2000:]
    summary = json.loads(out.stdout)
    steps = summary["steps"]
    assert set(summary["datasets"]) >= {"demo-lung-ct", "demo-liver-ct", "demo-sarcoma-ct"}
    assert steps["search"]["dataset_id"] == "demo-lung-ct"
    assert steps["access"]["status"] == "CONCLUDED"
    assert steps["checkout"]["intact"] and steps["checkout"]["files"] > 100
    inside = steps["sandboxed_analysis"]
    assert inside["network"].startswith("blocked")
    assert inside["checkout_readonly"] is True
    assert inside["cases_ok"] == inside["cases"] > 0
    assert inside["patients_modelled"] == 24
    # the demo outcome depends on tumour texture and shape: the validated model recovers it
    assert inside["auc_ci"][0] > 0.5
    assert steps["audit"]["intact"] and steps["audit"]["entries"] >= 8
    # the kernelspec went where JUPYTER_DATA_DIR said, not into the user's real home
    assert (tmp_path / "jupyter" / "kernels" / steps["kernel"]["kernel_name"] / "kernel.json").is_file()
    # a second run on the same node seeds nothing new and still works
    again = subprocess.run([sys.executable, "-m", "eucaim_lab.cli", "demo", "--if-empty", "--json"],
                           capture_output=True, text=True, env=env, timeout=300)
    assert again.returncode == 0 and json.loads(again.stdout)["seeded"] == []
