"""radiomics.extract on a real 2-worker Dask LocalCluster: pyradiomics parity, cache, faults, bad input, CLI."""

from __future__ import annotations

import io
import os
import signal
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import shared_data

sys.path.insert(0, str(Path(__file__).resolve().parent))  # workers inherit sys.path: they can import the helpers

from eucaim_lab.imaging import Case, ImageRef, MaskRef
from eucaim_lab.radiomics import META_COLUMNS, extract, text_progress

pytestmark = pytest.mark.shared_data


def _case(name: str, case_id: str | None = None, label: int = 1, image: str | None = None,
          mask: str | None = None) -> Case:
    root = shared_data("pyradiomics")
    return Case(case_id or name, name, "MR", "tumour",
                ImageRef("file", (image or str(root / f"{name}_image.nrrd"),)),
                MaskRef("file", mask or str(root / f"{name}_label.nrrd")), label)


@pytest.fixture(scope="module")
def cluster():
    import dask
    from distributed import Client, LocalCluster

    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        lc = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                          silence_logs=50)
    client = Client(lc)
    yield client
    client.close()
    lc.close()


@pytest.fixture()
def three():
    return [_case("brain1"), _case("brain2"), _case("breast1")]


def test_features_equal_direct_pyradiomics(cluster, three):
    from radiomics.featureextractor import RadiomicsFeatureExtractor

    df = extract(three[:1], "default", cluster, cache=False, progress=False)
    assert list(df.columns[: len(META_COLUMNS)]) == list(META_COLUMNS)
    row = df.iloc[0]
    assert row["status"] == "ok" and row["error"] is None
    c = three[0]
    direct = RadiomicsFeatureExtractor().execute(c.image.paths[0], c.mask.path, label=1)
    expected = {k: float(v) for k, v in direct.items() if not k.startswith("diagnostics_")}
    got = {k: row[k] for k in df.columns[len(META_COLUMNS):]}
    assert set(got) == set(expected)
    assert "original_glcm_Contrast" in got
    for k, v in expected.items():
        assert got[k] == pytest.approx(v, rel=1e-6, abs=1e-12), k
    assert row["engine_versions"].startswith("pyradiomics=3.0.1;SimpleITK=")
    assert row["input_digest"] == c.input_digest()
    assert not any(k.startswith("diagnostics_") for k in df.columns)
    assert "diagnostics_Configuration_Settings" in df.attrs["diagnostics"]["brain1"]


def test_cache_reuse_settings_change_and_resume(cluster, three, tmp_path):
    cache = tmp_path / "cache"
    first = extract(three, "default", cluster, cache=cache, progress=False)
    assert (first.attrs["computed"], first.attrs["from_cache"]) == (3, 0)
    events = []
    second = extract(three, "default", cluster, cache=cache, progress=events.append)
    assert (second.attrs["computed"], second.attrs["from_cache"]) == (0, 3)
    assert {e.source for e in events if e.case_id} == {"cache"}
    feats = [c for c in first.columns if c.startswith("original_")]
    np.testing.assert_array_equal(first[feats].to_numpy(float), second[feats].to_numpy(float))
    # another setting: another settings digest, everything computed again, different values
    third = extract(three, {"setting": {"binWidth": 50}}, cluster, cache=cache, progress=False)
    assert third.attrs["computed"] == 3
    assert third["settings_digest"].iloc[0] != first["settings_digest"].iloc[0]
    assert not np.allclose(third["original_glcm_Contrast"], first["original_glcm_Contrast"])
    # a run that stopped after some cases: only the others are computed
    cache2 = tmp_path / "cache2"
    extract(three[:1], "default", cluster, cache=cache2, progress=False)
    events = []
    resumed = extract(three, "default", cluster, cache=cache2, progress=events.append)
    assert resumed.attrs["computed"] == 2
    assert sorted(e.case_id for e in events if e.source == "computed") == ["brain2", "breast1"]


def test_bad_input_rows_and_batch_goes_on(cluster, tmp_path):
    import SimpleITK as sitk

    root = shared_data("pyradiomics")
    mask = sitk.ReadImage(str(root / "brain1_label.nrrd"))
    empty = sitk.Image(mask.GetSize(), sitk.sitkUInt8)
    empty.CopyInformation(mask)
    sitk.WriteImage(empty, str(tmp_path / "empty.nrrd"))
    other = sitk.Resample(mask, [64, 64, 10], sitk.Transform(), sitk.sitkNearestNeighbor, mask.GetOrigin(),
                          [3.0, 3.0, 15.0], mask.GetDirection())
    sitk.WriteImage(other, str(tmp_path / "other_grid.nrrd"))
    cases = [
        _case("breast1"),
        _case("brain1", "brain1_ok"),  # shares its image (one read) with the bad masks below
        _case("brain1", "empty", mask=str(tmp_path / "empty.nrrd")),
        _case("brain1", "absent_label", label=7),
        _case("brain1", "other_grid", mask=str(tmp_path / "other_grid.nrrd")),
        _case("brain1", "missing_file", mask=str(tmp_path / "nope.nrrd")),
    ]
    df = extract(cases, "default", cluster, cache=tmp_path / "c", progress=False).set_index("case_id")
    assert df.loc["breast1", "status"] == "ok"
    for cid in ("empty", "absent_label", "other_grid", "missing_file"):
        assert df.loc[cid, "status"] == "error", cid
        assert "\n" not in df.loc[cid, "error"]
    assert "empty" in df.loc["empty", "error"].lower()
    assert "7" in df.loc["absent_label", "error"] and "label" in df.loc["absent_label", "error"].lower()
    assert "grid" in df.loc["other_grid", "error"].lower() or "spacing" in df.loc["other_grid", "error"].lower()
    assert "nope.nrrd" in df.loc["missing_file", "error"]
    assert np.isnan(df.loc["empty", "original_firstorder_Mean"])
    assert df.attrs["failed"] == 4
    # deterministic input errors are cached like results; the unreadable file is neither computed nor cached
    again = extract(cases, "default", cluster, cache=tmp_path / "c", progress=False)
    assert (again.attrs["computed"], again.attrs["from_cache"]) == (0, 5)
    alone = extract([_case("brain1")], "default", cluster, cache=False, progress=False)
    feats = [c for c in alone.columns if c.startswith("original_")]
    np.testing.assert_array_equal(alone[feats].to_numpy(float)[0], df.loc["brain1_ok", feats].to_numpy(float))


def test_ibsi_profile_resamples_on_the_ibsi_grid(cluster, tmp_path):
    import SimpleITK as sitk

    case = _case("breast1")
    df = extract([case], "ibsi-C", cluster, cache=False, progress=False)
    assert df["status"].iloc[0] == "ok", df["error"].iloc[0]
    diag = df.attrs["diagnostics"]["breast1"]
    assert diag["diagnostics_Image-original_Spacing"] == "(2.0, 2.0, 2.0)"
    img = sitk.ReadImage(case.image.paths[0])
    expected = tuple(int(np.ceil(n * s / 2.0 - 1e-9)) for n, s in zip(img.GetSize(), img.GetSpacing()))
    assert diag["diagnostics_Image-original_Size"] == str(expected)
    default = extract([case], "default", cluster, cache=False, progress=False)
    assert df["original_shape_VoxelVolume"].iloc[0] != default["original_shape_VoxelVolume"].iloc[0]


def test_region_filling_the_whole_image_is_padded_not_failed(cluster, tmp_path):
    import SimpleITK as sitk

    img = sitk.ReadImage(str(shared_data("pyradiomics") / "breast1_image.nrrd"))
    full = sitk.Image(img.GetSize(), sitk.sitkUInt8) + 1
    full.CopyInformation(img)
    sitk.WriteImage(full, str(tmp_path / "full.nrrd"))
    df = extract([_case("breast1", "full", mask=str(tmp_path / "full.nrrd"))], "default", cluster, cache=False,
                 progress=False)
    assert df["status"].iloc[0] == "ok", df["error"].iloc[0]
    assert df["original_shape_VoxelVolume"].iloc[0] == pytest.approx(np.prod(img.GetSize()) * np.prod(img.GetSpacing()))
    assert any("mask_touches_border" in f for f in df["qc_flags"].iloc[0])


def test_worker_killed_mid_run_completes_every_case(cluster, tmp_path):
    root = shared_data("pyradiomics")
    cases = []
    for i in range(8):  # distinct files so each case is its own task
        name = ("brain1", "brain2", "breast1")[i % 3]
        img, msk = tmp_path / f"{name}_{i}_image.nrrd", tmp_path / f"{name}_{i}_label.nrrd"
        img.write_bytes((root / f"{name}_image.nrrd").read_bytes())
        msk.write_bytes((root / f"{name}_label.nrrd").read_bytes())
        cases.append(_case(name, f"c{i}", image=str(img), mask=str(msk)))
    pids = cluster.run(os.getpid)
    killed = []

    def kill_one(event):
        if event.source == "computed" and not killed:
            pid = next(iter(pids.values()))
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    df = extract(cases, "default", cluster, cache=False, progress=kill_one)
    assert killed
    assert list(df["status"]) == ["ok"] * 8, df["error"].tolist()
    cluster.wait_for_workers(2, timeout=60)
    assert killed[0] not in cluster.run(os.getpid).values()


def test_crashing_case_fails_after_bounded_retries(cluster, tmp_path):
    from eucaim_radiomics_helpers import CrashingCase

    good = _case("breast1")
    crash = CrashingCase("crasher", "p", "MR", "r", good.image, good.mask)
    df = extract([crash, good], "default", cluster, cache=tmp_path / "c", progress=False).set_index("case_id")
    assert df.loc["breast1", "status"] == "ok"
    assert df.loc["crasher", "status"] == "error"
    assert "KilledWorker" in df.loc["crasher", "error"]
    cluster.wait_for_workers(2, timeout=60)
    # worker deaths are not cached: the next run tries again
    again = extract([crash], "default", cluster, cache=tmp_path / "c", progress=False)
    assert again.attrs["computed"] == 1 and again["status"].iloc[0] == "error"


def test_text_progress_renders_to_stream(cluster, three, tmp_path):
    out = io.StringIO()
    extract(three, "default", cluster, cache=tmp_path / "c", progress=text_progress(out))
    text = out.getvalue()
    assert "3/3" in text and text.endswith("\n")


def test_cli_batch_csv_to_parquet(cluster, tmp_path, node_home, capsys):
    import pandas as pd

    from eucaim_lab.cli import main

    root = shared_data("pyradiomics")
    batch = tmp_path / "batch.csv"
    batch.write_text("ID,Image,Mask\n"
                     f"first,{root / 'brain2_image.nrrd'},{root / 'brain2_label.nrrd'}\n"
                     f"second,{root / 'breast1_image.nrrd'},{root / 'breast1_label.nrrd'}\n")
    out = tmp_path / "features.parquet"
    code = main(["radiomics", "extract", "--cases", str(batch), "--out", str(out), "--quiet",
                 "--scheduler", cluster.scheduler.address])
    assert code == 0
    df = pd.read_parquet(out)
    assert list(df["case_id"]) == ["first", "second"]
    assert list(df.columns[:11]) == list(META_COLUMNS)
    assert "original_glcm_Contrast" in df.columns and "original_shape_MeshVolume" in df.columns
    assert (df["status"] == "ok").all()
    assert (node_home / "cache" / "radiomics").is_dir()
    assert main(["radiomics", "extract", "--cases", str(batch), "--out", str(tmp_path / "x.txt")]) == 1
    assert "--out must end in .parquet or .csv" in capsys.readouterr().err


def test_own_local_cluster_and_no_cluster_when_all_cached(cluster, three, tmp_path):
    """client=None starts (and closes) a LocalCluster of its own; a fully cached run starts none."""
    cache = tmp_path / "c"
    ref = extract(three[2:], "default", cluster, cache=False, progress=False)
    own = extract(three[2:], "default", None, workers=1, cache=cache, progress=False)
    assert own["status"].tolist() == ["ok"] and own.attrs["computed"] == 1
    feats = [c for c in ref.columns if c.startswith("original_")]
    np.testing.assert_array_equal(ref[feats].to_numpy(float), own[feats].to_numpy(float))
    again = extract(three[2:], "default", "tcp://127.0.0.1:9", cache=cache, progress=False)  # never contacted
    assert again.attrs["from_cache"] == 1


def test_groups_share_image_reads_and_split_when_one_image_dominates():
    from eucaim_lab.radiomics._extract import _groups

    root = shared_data("pyradiomics")
    many = [_case("brain1", f"b{i}") for i in range(6)]  # six ROIs on one image
    others = [_case("breast1"), _case("brain2")]
    groups = _groups(many + others, n_workers=1)
    assert sorted(len(g) for g in groups) == [1, 1, 2, 4]
    assert all(len({c.image_key for c in g}) == 1 for g in groups)
    assert groups[0][0].image.paths[0] == str(root / "brain1_image.nrrd")  # largest image first
    # few cases per worker: several tasks for the dominant image; many workers: one case per task
    assert max(len(g) for g in _groups(many + others, n_workers=4)) == 1
    assert len(_groups(many, n_workers=1)) == 2


def test_dicom_rtstruct_folder_and_checkout_id(cluster, node_home, tmp_path):
    import shutil

    df = extract(shared_data("dicom", "ibsi-validation-sts-002", "dicom"), "default", cluster, cache=False,
                 progress=False)
    assert sorted(df["modality"]) == ["CT", "MR", "PT"]
    assert set(df["patient_id"]) == {"STS_002"} and (df["status"] == "ok").all(), df["error"].tolist()
    assert (df["original_shape_VoxelVolume"] > 0).all()
    # a checkout id resolves to <node>/checkouts/<id>
    checkout = node_home / "checkouts" / "co-1"
    checkout.mkdir(parents=True)
    root = shared_data("pyradiomics")
    shutil.copy(root / "breast1_image.nrrd", checkout / "breast1_image.nrrd")
    shutil.copy(root / "breast1_label.nrrd", checkout / "breast1_label.nrrd")
    by_id = extract("co-1", "default", cluster, cache=False, progress=False)
    assert len(by_id) == 1 and by_id["status"].iloc[0] == "ok"


def test_process_killed_mid_run_resumes_with_what_it_finished(cluster, tmp_path):
    """The whole process dies after its first finished case; the next run computes only the others."""
    import subprocess

    root = shared_data("pyradiomics")
    script = tmp_path / "run.py"
    script.write_text(
        "import os, sys\n"
        "from eucaim_lab.imaging import Case, ImageRef, MaskRef\n"
        "from eucaim_lab.radiomics import extract\n"
        "def stop(event):\n"
        "    if event.source == 'computed':\n"
        "        os._exit(3)\n"
        "if __name__ == '__main__':\n"
        f"    root = {str(root)!r}\n"
        "    cases = [Case(n, n, 'MR', 'tumour', ImageRef('file', (f'{root}/{n}_image.nrrd',)),\n"
        "                  MaskRef('file', f'{root}/{n}_label.nrrd')) for n in ('brain1', 'brain2', 'breast1')]\n"
        f"    extract(cases, 'default', None, workers=1, cache={str(tmp_path / 'c')!r}, progress=stop)\n"
    )
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, timeout=120)
    assert proc.returncode == 3, proc.stderr.decode()[-2000:]
    events = []
    resumed = extract([_case("brain1"), _case("brain2"), _case("breast1")], "default", cluster,
                      cache=tmp_path / "c", progress=events.append)
    assert (resumed.attrs["from_cache"], resumed.attrs["computed"]) == (1, 2)
    assert (resumed["status"] == "ok").all()


def test_sandboxed_default_cache_lives_in_the_workspace(tmp_path, monkeypatch):
    # the sandbox's home is scratch that vanishes with the kernel; the cache must survive with the results
    from eucaim_lab.radiomics._extract import _resolve_cache

    monkeypatch.setenv("EUCAIM_SANDBOXED", "1")
    monkeypatch.setenv("EUCAIM_WORKSPACE", str(tmp_path / "ws"))
    assert _resolve_cache(True, None).root == tmp_path / "ws" / ".cache" / "radiomics"
    monkeypatch.delenv("EUCAIM_SANDBOXED")
    monkeypatch.setenv("EUCAIM_LAB_HOME", str(tmp_path / "node"))
    assert _resolve_cache(True, None).root == tmp_path / "node" / "cache" / "radiomics"


def test_text_progress_writes_lines_not_redraws_into_a_log():
    from eucaim_lab.radiomics._progress import ProgressEvent

    out = io.StringIO()  # not a terminal
    render = text_progress(out)
    fields = ProgressEvent.__dataclass_fields__
    for done in range(1, 101):
        values = {"done": done, "total": 100, "case_id": f"c{done}", "status": "ok"}
        render(ProgressEvent(**{k: v for k, v in values.items() if k in fields}))
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert len(lines) == 11 and lines[-1].startswith("radiomics [") and "100/100" in lines[-1]  # start + each tenth
