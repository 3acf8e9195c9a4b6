"""Ingest of real DICOM folders into the local node: counts, links, checksums, tolerance, atomicity."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
from conftest import shared_data
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from eucaim_lab._errors import ConflictError, InvalidInputError, NotFoundError
from eucaim_lab.catalogue import Catalogue


def _ct(path: Path, patient: str, sex: str, age: str, study: str, series: str, z: float, maker: str) -> None:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
    ds.PatientID, ds.PatientSex, ds.PatientAge = patient, sex, age
    ds.Modality, ds.Manufacturer, ds.BodyPartExamined = "CT", maker, "CHEST"
    ds.StudyDate = "20210304"
    ds.ImagePositionPatient = [0, 0, z]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing, ds.SliceThickness = [1, 1], 1
    ds.Rows = ds.Columns = 8
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.PixelData = np.zeros((8, 8), dtype=np.int16).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)


@pytest.fixture()
def small_folder(tmp_path: Path) -> Path:
    root = tmp_path / "incoming"
    for p, (sex, age, maker) in {"P1": ("F", "054Y", "SIEMENS"), "P2": ("M", "071Y", "GE MEDICAL SYSTEMS")}.items():
        study, series = generate_uid(), generate_uid()
        for i in range(3):
            _ct(root / p / "deep" / "er" / f"IMG{i}", p, sex, age, study, series, float(i), maker)
    (root / "notes.txt").write_text("not dicom")
    (root / "P1" / "broken.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00\x10")
    (root / "clinical.csv").write_text("patient_id,outcome,stage\nP1,1,II\nP2,0,III\nP3,1,I\n")
    return root


def _sha3(path: Path) -> str:
    return hashlib.sha3_256(path.read_bytes()).hexdigest()


def test_ingest_small_folder(node, small_folder):
    cat = Catalogue(node=node)
    out = cat.ingest(small_folder, dataset_id="small", title="Small CT", clinical=small_folder / "clinical.csv",
                     conditions=["lung-cancer"], access_condition="DOWNLOAD", data_holder="hospital-x")
    assert (out["subjects_count"], out["studies_count"], out["series_count"], out["files_count"]) == (2, 2, 2, 6)
    assert out["modalities"] == ["CT"] and out["segmentations_count"] == 0
    assert sorted(Path(s["path"]).name for s in out["skipped"]) == ["broken.dcm", "clinical.csv", "notes.txt"]
    assert out["clinical"]["subjects_without_images"] == ["P3"]
    rec = cat.get("small")
    assert {s.value: n for s, n in rec.sex.items()} == {"female": 1, "male": 1}
    assert (rec.age_range.min, rec.age_range.max) == (54, 71)
    assert rec.manufacturers == ("GE", "Siemens") and [b.value for b in rec.body_parts] == ["chest"]
    assert rec.acquisition_period.start.isoformat() == "2021-03-04"
    assert rec.data_holder == "hospital-x" and rec.access_condition.value == "DOWNLOAD"
    # files copied into the datalake, read-only, with the recorded SHA3 of their bytes
    root = cat.dataset_root("small")
    files = cat.files("small")
    assert len(files) == 6
    for row in files.itertuples():
        f = root / row.relpath
        assert _sha3(f) == row.sha3
        assert not os.access(f, os.W_OK) or os.geteuid() == 0
        assert oct(f.stat().st_mode & 0o777) == "0o444"
    # CHAIMELEON index.json and eforms.json
    index = cat.index_json("small")
    assert {s["subjectName"] for s in index} == {"P1", "P2"}
    for study in index:
        for ser in study["series"]:
            assert len(list((root / study["path"] / ser["folderName"]).glob("*.dcm"))) == 3
    eforms = {e["subjectName"]: e["eForm"] for e in cat.eforms("small")}
    assert eforms["P1"]["outcome"] == 1 and eforms["P2"]["stage"] == "III" and "P3" in eforms
    assert cat.search(text="Small", modality="CT")["identifier"].tolist() == ["small"]


def _node_state(home: Path) -> tuple:
    datalake = home / "datalake"
    listing = sorted(str(p.relative_to(home)) for p in datalake.rglob("*")) if datalake.exists() else []
    cat = Catalogue(home)
    return tuple(cat.ids()), tuple(listing)


def test_bad_input_leaves_node_unchanged(node_home, small_folder, tmp_path):
    cat = Catalogue(node_home)
    cat.ingest(small_folder, dataset_id="first", title="First")
    before = _node_state(node_home)
    with pytest.raises(NotFoundError, match="no such file or folder"):
        cat.ingest(tmp_path / "missing", dataset_id="x", title="X")
    with pytest.raises(ConflictError, match="already exists"):
        cat.ingest(small_folder, dataset_id="first", title="Again")
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_bytes(b"\xff\xfe\x00garbage\x00\n\x00")
    with pytest.raises(InvalidInputError, match="clinical table|Clinical table"):
        cat.ingest(small_folder, dataset_id="second", title="Second", clinical=bad_csv)
    no_id = tmp_path / "noid.csv"
    no_id.write_text("age,outcome\n50,1\n")
    with pytest.raises(InvalidInputError, match="no subject id column"):
        cat.ingest(small_folder, dataset_id="third", title="Third", clinical=no_id)
    with pytest.raises(InvalidInputError, match="Unknown access condition"):
        cat.ingest(small_folder, dataset_id="fourth", title="Fourth", access_condition="EMAIL")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "a.txt").write_text("x")
    with pytest.raises(InvalidInputError, match="No readable DICOM files"):
        cat.ingest(empty, dataset_id="fifth", title="Fifth")
    assert _node_state(node_home) == before


def test_cli_ingest_errors_are_one_line(node_home, small_folder):
    env = {**os.environ, "EUCAIM_LAB_HOME": str(node_home)}
    ok = subprocess.run([sys.executable, "-m", "eucaim_lab.cli", "ingest", str(small_folder), "--dataset", "d1",
                         "--title", "T", "--json"], capture_output=True, text=True, env=env)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["files_count"] == 6
    dup = subprocess.run([sys.executable, "-m", "eucaim_lab.cli", "ingest", str(small_folder), "--dataset", "d1",
                          "--title", "T"], capture_output=True, text=True, env=env)
    assert dup.returncode == 1 and dup.stderr.strip().count("\n") == 0 and "already exists" in dup.stderr
    bad = subprocess.run([sys.executable, "-m", "eucaim_lab.cli", "ingest", str(small_folder), "--dataset", "../d2",
                          "--title", "T"], capture_output=True, text=True, env=env)
    assert bad.returncode == 1 and "dataset id" in bad.stderr


@pytest.mark.shared_data
def test_ingest_sts_cohort(node):
    src = shared_data("sts-cohort")
    cat = Catalogue(node=node)
    out = cat.ingest(src, dataset_id="sts", title="Soft-tissue sarcoma", conditions=["soft-tissue-sarcoma"])
    assert out["subjects_count"] == 10
    assert out["studies_count"] == 10
    assert out["series_count"] == 30
    assert out["segmentations_count"] == 30
    assert out["modalities"] == ["CT", "MR", "PT"]
    assert out["skipped"] == [] or all("_mirp_masks" in s["path"] or s["path"].endswith(".md")
                                       for s in out["skipped"])
    series = cat.series("sts")
    images = series[series.kind == "image"]
    rts = series[series.kind == "RTSTRUCT"]
    assert len(images) == 30 and len(rts) == 30
    image_uids = set(images.series_uid)
    # every RTSTRUCT references exactly one image series of the same patient, and each image series has one
    referenced = []
    for row in rts.itertuples():
        assert len(row.referenced_series_uids) == 1 and row.referenced_series_uids[0] in image_uids
        target = images[images.series_uid == row.referenced_series_uids[0]].iloc[0]
        assert target.patient_id == row.patient_id
        assert row.labels == [f"GTV_Mass_{ {'PT': 'PET', 'MR': 'MR_T1'}.get(target.modality, target.modality)}"]
        referenced.append(row.referenced_series_uids[0])
    assert sorted(referenced) == sorted(image_uids)
    assert all(s["linked"] for s in out["segmentations"])
    assert cat.search(modality="PT", condition="C49")["identifier"].tolist() == ["sts"]


@pytest.mark.shared_data
def test_ingest_dicom_edge_indexes_good_and_reports_bad(node):
    src = shared_data("dicom-edge")
    out = Catalogue(node=node).ingest(src, dataset_id="edge", title="Edge cases")
    reasons = {Path(s["path"]).name: s["reason"] for s in out["skipped"]}
    assert "truncated" in reasons["MR_truncated.dcm"]
    assert "truncated" in reasons["rtplan_truncated.dcm"]
    assert "not a DICOM file" in reasons["no_meta.dcm"] or "no_meta.dcm" not in reasons
    assert "gzip" in reasons["zipMR.gz"]
    assert all(r.strip() and "\n" not in r for r in reasons.values())
    assert out["files_count"] >= 10 and {"CT", "MR"} <= set(out["modalities"])


def test_a_single_body_part_string_is_one_value(node, small_folder):
    # a plain string once became one body part per letter ("Unknown body part 'l'")
    out = Catalogue(node=node).ingest(small_folder, dataset_id="one", title="One", body_parts="lung")
    assert out["body_parts"] == ["lung", "chest"]
