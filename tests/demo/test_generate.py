"""The demo cohort generator: real DICOM that reads back, masks that match, determinism, a learnable outcome, sites."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np
import pytest

from eucaim_lab._errors import ConflictError, InvalidInputError
from eucaim_lab.catalogue._model import DatasetRecord
from eucaim_lab.catalogue._vocab import BodyPart, Sex, normalise_manufacturer
from eucaim_lab.demo import (
    CLINICAL_COLUMNS,
    DEMO_DATASETS,
    GRID_SHAPE,
    OUTCOME_MODEL,
    SPACING_MM,
    DatasetSpec,
    Label,
    draw_patients,
    generate_all,
    generate_cohort,
    load_truth,
    make_phantom,
)

LUNG = DEMO_DATASETS[0]
N_SMALL = 4  # patients 0 and 3 get an RTSTRUCT


def _digests(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha3_256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory):
    return generate_cohort(tmp_path_factory.mktemp("demo") / "lung", seed=0, n_patients=N_SMALL)


@pytest.fixture(scope="module")
def truth(cohort) -> dict:
    return load_truth(cohort.path)


def _ct(folder: Path) -> list:
    import pydicom

    return [pydicom.dcmread(p) for p in sorted((folder / "CT").glob("*.dcm"))]


def test_cohort_layout_and_counts(cohort) -> None:
    assert cohort.n_patients == N_SMALL and cohort.spec.dataset_id == "demo-lung-ct"
    dicoms = sorted(cohort.path.rglob("*.dcm"))
    assert cohort.files_count == len(dicoms) == N_SMALL * (GRID_SHAPE[0] + 1) + 2
    assert cohort.size_bytes == sum(p.stat().st_size for p in cohort.path.rglob("*") if p.is_file())
    assert sorted(p.name for p in cohort.path.iterdir()) == ["clinical.csv", "dicom", "truth.json"]
    assert cohort.dicom_dir == cohort.path / "dicom"
    assert sorted(p.name for p in cohort.dicom_dir.iterdir()) == [
        "LUNG-CT-001",
        "LUNG-CT-002",
        "LUNG-CT-003",
        "LUNG-CT-004",
    ]


def test_ct_series_reads_back_with_the_generated_hounsfield_units(cohort, truth) -> None:
    import SimpleITK as sitk
    from scipy import ndimage

    manufacturers = set()
    for entry in truth["patients"]:
        folder = cohort.dicom_dir / entry["patient_id"]
        ct = _ct(folder)
        assert len(ct) == GRID_SHAPE[0]
        first = ct[0]
        assert first.SOPClassUID == "1.2.840.10008.5.1.4.1.1.2" and first.Modality == "CT"
        assert first.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"
        assert len({ds.SOPInstanceUID for ds in ct}) == GRID_SHAPE[0]
        assert {ds.SeriesInstanceUID for ds in ct} == {entry["ct_series_uid"]}
        assert first.PatientID == entry["patient_id"] and first.PatientSex == entry["sex"]
        assert first.PatientAge == f"{entry['age']:03d}Y"
        assert first.StudyDate == entry["study_date"].replace("-", "")
        assert BodyPart.from_dicom(first.BodyPartExamined) == BodyPart.LUNG
        assert [float(v) for v in first.PixelSpacing] == [1.0, 1.0] and float(first.SliceThickness) == 2.5
        assert [float(v) for v in first.ImageOrientationPatient] == [1, 0, 0, 0, 1, 0]
        z = [float(ds.ImagePositionPatient[2]) for ds in ct]
        assert np.allclose(np.diff(z), 2.5)
        site = LUNG.site(entry["site_id"])
        assert first.Manufacturer == site.manufacturer and first.InstitutionName == site.institution
        assert first.ManufacturerModelName == site.model
        manufacturers.add(normalise_manufacturer(first.Manufacturer))
        hu = np.stack([ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept) for ds in ct])
        patient = draw_patients(LUNG, 0, N_SMALL)[entry["index"]]
        phantom = make_phantom(LUNG, patient, 0)
        assert np.array_equal(hu, phantom.hu)
        # CT-like values: air outside, lung parenchyma, tumour core around 40 HU (its rim mixes with the lung)
        assert hu[0, 0, 0] < -900
        assert -1000 < np.median(hu[phantom.labels == Label.ORGAN]) < -700
        core = ndimage.binary_erosion(phantom.tumour)
        assert 0 < np.mean(hu[core]) - site.offset_hu < 80
        # a standard reader agrees on geometry and values
        reader = sitk.ImageSeriesReader()
        reader.SetFileNames([str(p) for p in sorted((folder / "CT").glob("*.dcm"))])
        image = reader.Execute()
        assert image.GetSize() == (GRID_SHAPE[2], GRID_SHAPE[1], GRID_SHAPE[0])
        assert np.allclose(image.GetSpacing(), SPACING_MM[::-1])
        assert np.array_equal(sitk.GetArrayFromImage(image), phantom.hu)
    assert manufacturers == {"Siemens", "GE", "Philips"}


def test_seg_reads_back_with_highdicom_and_equals_the_tumour(cohort, truth) -> None:
    import highdicom as hd

    for entry in truth["patients"]:
        folder = cohort.dicom_dir / entry["patient_id"]
        ct = _ct(folder)
        seg = hd.seg.segread(folder / "SEG" / "SEG.dcm")
        assert seg.SegmentationType == "BINARY"
        (segment,) = seg.SegmentSequence
        assert segment.SegmentLabel == "Tumour" and segment.SegmentAlgorithmType in (
            "MANUAL",
            "SEMIAUTOMATIC",
        )
        assert seg.FrameOfReferenceUID == ct[0].FrameOfReferenceUID
        assert seg.StudyInstanceUID == ct[0].StudyInstanceUID and seg.PatientID == entry["patient_id"]
        assert [s.SeriesInstanceUID for s in seg.ReferencedSeriesSequence] == [entry["ct_series_uid"]]
        mask = seg.get_pixels_by_source_instance(
            source_sop_instance_uids=[ds.SOPInstanceUID for ds in ct], segment_numbers=[1]
        )[..., 0].astype(bool)
        patient = draw_patients(LUNG, 0, N_SMALL)[entry["index"]]
        expected = make_phantom(LUNG, patient, 0).tumour
        assert np.array_equal(mask, expected)
        assert int(mask.sum()) == entry["tumour_voxels"]
        assert entry["tumour_volume_ml"] == pytest.approx(mask.sum() * np.prod(SPACING_MM) / 1000, abs=1e-3)


def _rasterise(contours: list[np.ndarray], ct: list) -> np.ndarray:
    """Pixel centres inside the contours (XOR per slice), with matplotlib: an independent reader."""
    from matplotlib.path import Path as MplPath

    z_of = {round(float(ds.ImagePositionPatient[2]), 3): k for k, ds in enumerate(ct)}
    x0, y0 = float(ct[0].ImagePositionPatient[0]), float(ct[0].ImagePositionPatient[1])
    rows, cols = np.mgrid[0 : GRID_SHAPE[1], 0 : GRID_SHAPE[2]]
    centres = np.stack([x0 + cols.ravel() * 1.0, y0 + rows.ravel() * 1.0], axis=1)
    mask = np.zeros(GRID_SHAPE, dtype=bool)
    for points in contours:
        k = z_of[round(float(points[0, 2]), 3)]
        inside = MplPath(points[:, :2]).contains_points(centres).reshape(GRID_SHAPE[1:])
        mask[k] ^= inside
    return mask


def test_rtstruct_references_the_ct_and_its_contours_rebuild_the_mask(cohort, truth) -> None:
    import pydicom

    with_rt = [e for e in truth["patients"] if e["has_rtstruct"]]
    assert [e["index"] for e in with_rt] == [0, 3]
    for entry in truth["patients"]:
        path = cohort.dicom_dir / entry["patient_id"] / "RTSTRUCT" / "RTSTRUCT.dcm"
        assert path.exists() == entry["has_rtstruct"]
    for entry in with_rt:
        ct = _ct(cohort.dicom_dir / entry["patient_id"])
        rt = pydicom.dcmread(cohort.dicom_dir / entry["patient_id"] / "RTSTRUCT" / "RTSTRUCT.dcm")
        assert rt.SOPClassUID == "1.2.840.10008.5.1.4.1.1.481.3" and rt.Modality == "RTSTRUCT"
        (frame,) = rt.ReferencedFrameOfReferenceSequence
        assert frame.FrameOfReferenceUID == ct[0].FrameOfReferenceUID
        (study,) = frame.RTReferencedStudySequence
        assert study.ReferencedSOPInstanceUID == ct[0].StudyInstanceUID
        (series,) = study.RTReferencedSeriesSequence
        assert series.SeriesInstanceUID == entry["ct_series_uid"]
        ct_sops = {ds.SOPInstanceUID for ds in ct}
        assert {i.ReferencedSOPInstanceUID for i in series.ContourImageSequence} == ct_sops
        (roi,) = rt.StructureSetROISequence
        assert roi.ROIName == "GTV" and roi.ReferencedFrameOfReferenceUID == ct[0].FrameOfReferenceUID
        (roi_contour,) = rt.ROIContourSequence
        assert roi_contour.ReferencedROINumber == roi.ROINumber
        contours = []
        lo = np.array([float(v) for v in ct[0].ImagePositionPatient])
        hi = np.array([float(v) for v in ct[-1].ImagePositionPatient]) + [
            GRID_SHAPE[2] - 1,
            GRID_SHAPE[1] - 1,
            0,
        ]
        for item in roi_contour.ContourSequence:
            assert item.ContourGeometricType == "CLOSED_PLANAR"
            points = np.asarray([float(v) for v in item.ContourData]).reshape(-1, 3)
            assert len(points) == item.NumberOfContourPoints >= 3
            assert np.all(points >= lo - 0.5) and np.all(points <= hi + 0.5)  # inside the CT volume
            assert len(np.unique(points[:, 2])) == 1
            ref = item.ContourImageSequence[0].ReferencedSOPInstanceUID
            assert ref in ct_sops
            slice_z = next(float(ds.ImagePositionPatient[2]) for ds in ct if ds.SOPInstanceUID == ref)
            assert points[0, 2] == pytest.approx(slice_z)
            contours.append(points)
        patient = draw_patients(LUNG, 0, N_SMALL)[entry["index"]]
        assert np.array_equal(_rasterise(contours, ct), make_phantom(LUNG, patient, 0).tumour)


def test_clinical_csv_has_one_row_per_patient_consistent_with_dicom_and_truth(cohort, truth) -> None:
    with cohort.clinical_csv.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == CLINICAL_COLUMNS
    assert [r["patient_id"] for r in rows] == [e["patient_id"] for e in truth["patients"]]
    for row, entry in zip(rows, truth["patients"]):
        first = _ct(cohort.dicom_dir / row["patient_id"])[0]
        assert Sex.from_dicom(first.PatientSex) == Sex.from_dicom(row["sex"])
        assert int(first.PatientAge[:3]) == int(row["age"])
        assert row["site"] == entry["site_id"] and row["manufacturer"] == first.Manufacturer
        assert float(row["tumour_volume_ml"]) == pytest.approx(entry["tumour_volume_ml"])
        assert int(row["outcome"]) == entry["outcome"] in (0, 1)
        assert row["stage"] in {"I", "II", "III", "IV"} and float(row["followup_months"]) > 0
        assert entry["logit"] == pytest.approx(
            OUTCOME_MODEL.logit(entry["z_heterogeneity"], entry["z_irregularity"], entry["z_size"]), abs=1e-5
        )
    assert truth["outcome_model"]["coefficients"] == {
        "heterogeneity": OUTCOME_MODEL.heterogeneity,
        "irregularity": OUTCOME_MODEL.irregularity,
        "size": OUTCOME_MODEL.size,
    }


def test_same_seed_gives_identical_bytes_and_another_seed_differs(cohort, tmp_path: Path) -> None:
    again = generate_cohort(tmp_path / "again", seed=0, n_patients=N_SMALL)
    other = generate_cohort(tmp_path / "other", seed=1, n_patients=N_SMALL)
    reference = _digests(cohort.path)
    assert _digests(again.path) == reference
    different = _digests(other.path)
    assert different.keys() == reference.keys()
    assert all(different[k] != reference[k] for k in reference)


def test_a_patient_does_not_depend_on_the_cohort_size() -> None:
    assert draw_patients(LUNG, 7, 3) == draw_patients(LUNG, 7, 10)[:3]


def _fit_auc(features: np.ndarray, outcome: np.ndarray) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    model = make_pipeline(StandardScaler(), LogisticRegression())
    return float(cross_val_score(model, features, outcome, cv=cv, scoring="roc_auc").mean())


def test_outcome_is_learnable_from_the_latents_but_not_trivially() -> None:
    spec = LUNG.with_patients(150)
    for seed in (0, 1):
        patients = draw_patients(spec, seed)
        latents = np.array([[p.z_heterogeneity, p.z_irregularity, p.z_size] for p in patients])
        outcome = np.array([p.outcome for p in patients])
        assert 0.25 < outcome.mean() < 0.75
        auc = _fit_auc(latents, outcome)
        assert 0.7 < auc < 0.99, auc
        # noise alone predicts nothing
        noise = np.random.default_rng(seed).standard_normal(latents.shape)
        assert abs(_fit_auc(noise, outcome) - 0.5) < 0.15


def test_the_outcome_follows_the_declared_coefficients() -> None:
    from sklearn.linear_model import LogisticRegression

    patients = draw_patients(LUNG.with_patients(4000), 3)
    latents = np.array([[p.z_heterogeneity, p.z_irregularity, p.z_size] for p in patients])
    outcome = np.array([p.outcome for p in patients])
    fit = LogisticRegression(C=1e6).fit(latents, outcome)
    truth = [OUTCOME_MODEL.heterogeneity, OUTCOME_MODEL.irregularity, OUTCOME_MODEL.size]
    assert np.allclose(fit.coef_[0], truth, atol=0.25), fit.coef_
    assert fit.intercept_[0] == pytest.approx(OUTCOME_MODEL.intercept, abs=0.2)


def test_the_images_carry_the_texture_and_size_signal() -> None:
    """Measured on the images (not the latents): tumour SD follows heterogeneity, voxel count follows size."""
    from scipy import ndimage
    from scipy.stats import spearmanr

    spec = LUNG.with_patients(45)
    patients = draw_patients(spec, 5)
    sd, volume = [], []
    for p in patients:
        phantom = make_phantom(spec, p, 5)
        core = ndimage.binary_erosion(phantom.tumour)
        sd.append(float(phantom.hu[core].std()))
        volume.append(float(phantom.tumour.sum()))
    assert spearmanr(sd, [p.z_heterogeneity for p in patients]).statistic > 0.5
    assert spearmanr(volume, [p.z_size for p in patients]).statistic > 0.8


def test_sites_shift_the_background_more_than_chance_allows() -> None:
    from scipy.stats import f_oneway

    spec = DEMO_DATASETS[2].with_patients(12)  # sarcoma: muscle around the tumour
    patients = draw_patients(spec, 0)
    by_site: dict[str, list[float]] = {s.site_id: [] for s in spec.sites}
    for p in patients:
        phantom = make_phantom(spec, p, 0)
        muscle = phantom.labels == Label.MUSCLE
        by_site[p.site_id].append(float(phantom.hu[muscle].mean()))
    assert all(len(v) == 4 for v in by_site.values())
    assert f_oneway(*by_site.values()).pvalue < 1e-6
    means = {site: float(np.mean(v)) for site, v in by_site.items()}
    for site in spec.sites:  # each site's calibration offset shows, within a few HU
        assert means[site.site_id] - 50.0 == pytest.approx(site.offset_hu, abs=5.0)
    offsets = sorted(s.offset_hu for s in spec.sites)
    assert offsets[-1] - offsets[0] >= 40 and all(10 <= s.noise_sd_hu <= 30 for s in spec.sites)


def test_generate_all_writes_every_demo_dataset_small_enough(tmp_path: Path) -> None:
    infos = generate_all(tmp_path, seed=0)
    assert [i.spec.dataset_id for i in infos] == [s.dataset_id for s in DEMO_DATASETS]
    assert [i.n_patients for i in infos] == [s.n_patients for s in DEMO_DATASETS]
    assert sum(i.size_bytes for i in infos) < 40 * 2**20
    import pydicom

    for info in infos:
        assert info.path == tmp_path / info.spec.dataset_id
        first = pydicom.dcmread(next(info.dicom_dir.glob("*/CT/CT_001.dcm")), stop_before_pixels=True)
        assert BodyPart.from_dicom(first.BodyPartExamined) == info.spec.body_part
        assert sum(1 for _ in info.path.rglob("*.dcm")) == info.files_count
    assert len({i.spec.condition for i in infos}) == len(infos)
    assert len({i.spec.access_condition for i in infos}) == 3
    breast = next(i for i in infos if i.spec.body_part == BodyPart.BREAST)
    with breast.clinical_csv.open(newline="") as fh:
        assert {row["sex"] for row in csv.DictReader(fh)} == {"F"}


def test_generate_all_scale_shrinks_the_cohorts(tmp_path: Path) -> None:
    (info,) = generate_all(tmp_path, seed=2, scale=0.1, datasets=DEMO_DATASETS[3:])
    assert info.n_patients == 3  # never fewer patients than sites
    assert sorted(p.name for p in info.dicom_dir.iterdir()) == [
        DEMO_DATASETS[3].patient_id(i) for i in range(3)
    ]


def test_every_demo_spec_makes_a_valid_catalogue_record() -> None:
    for spec in DEMO_DATASETS:
        record = DatasetRecord.build(identifier=spec.dataset_id, **spec.catalogue_metadata())
        assert record.conditions == (spec.condition,) and record.body_parts == (spec.body_part,)
        assert record.access_condition == spec.access_condition and record.data_holder == spec.data_holder


def test_bad_input_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "keep.txt").write_text("mine")
    with pytest.raises(ConflictError, match="must be empty"):
        generate_cohort(occupied, n_patients=2)
    assert [p.name for p in occupied.iterdir()] == ["keep.txt"]
    with pytest.raises(InvalidInputError, match="seed"):
        generate_cohort(tmp_path / "a", seed=-1, n_patients=2)
    with pytest.raises(InvalidInputError, match="n_patients"):
        generate_cohort(tmp_path / "b", n_patients=0)
    with pytest.raises(InvalidInputError, match="scale"):
        generate_all(tmp_path / "c", scale=0)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists() and not (tmp_path / "c").exists()
    with pytest.raises(InvalidInputError, match="dataset id"):
        DatasetSpec(
            dataset_id="../escape", title="t", description="d", condition="lung-cancer", body_part="lung"
        )
    with pytest.raises(InvalidInputError, match="Unknown condition"):
        DatasetSpec(dataset_id="x", title="t", description="d", condition="flu", body_part="lung")


def test_the_indexer_sees_ct_seg_and_rtstruct_series(cohort) -> None:
    indexer = pytest.importorskip("eucaim_lab.catalogue._indexer")
    result = indexer.index_folder(cohort.dicom_dir, workers=1)
    assert not result.skipped
    series = indexer.group_series(result.instances)
    kinds = sorted(s.kind for s in series)
    assert kinds == ["RTSTRUCT"] * 2 + ["SEG"] * N_SMALL + ["image"] * N_SMALL
    ct_uids = {s.series_uid for s in series if s.kind == "image"}
    for s in series:
        if s.kind != "image":
            assert set(s.referenced_series_uids) <= ct_uids and len(s.referenced_series_uids) == 1


def test_files_pass_the_dicom3tools_iod_validator(cohort) -> None:
    """dciodvfy (Debian package dicom3tools) checks each object against its IOD: no errors, no warnings."""
    import shutil
    import subprocess

    dciodvfy = shutil.which("dciodvfy")
    if dciodvfy is None:
        pytest.skip("dciodvfy not installed (apt-get install dicom3tools)")
    folder = cohort.dicom_dir / "LUNG-CT-001"
    for path in (
        folder / "CT" / "CT_001.dcm",
        folder / "SEG" / "SEG.dcm",
        folder / "RTSTRUCT" / "RTSTRUCT.dcm",
    ):
        run = subprocess.run([dciodvfy, str(path)], capture_output=True, text=True, timeout=60, check=False)
        problems = [
            line for line in (run.stdout + run.stderr).splitlines() if line.startswith(("Error", "Warning"))
        ]
        assert problems == [], (path.name, problems)


def _xor_fill(polygons: list[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    from matplotlib.path import Path as MplPath

    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]]
    centres = np.stack([rows.ravel(), cols.ravel()], axis=1).astype(float)
    filled = np.zeros(shape, dtype=bool)
    for polygon in polygons:
        filled ^= MplPath(polygon).contains_points(centres).reshape(shape)
    return filled


def test_slice_contours_rebuild_any_mask_with_holes_and_diagonal_touches() -> None:
    """Property: XOR-filling the contours of any 2-D mask gives the mask back (what RTSTRUCT readers do)."""
    from hypothesis import given, settings
    from hypothesis import strategies as st
    from hypothesis.extra.numpy import arrays

    from eucaim_lab.demo._dicom import slice_contours

    @settings(max_examples=150, deadline=None)
    @given(arrays(np.bool_, st.tuples(st.integers(1, 9), st.integers(1, 9))))
    def check(mask: np.ndarray) -> None:
        assert np.array_equal(_xor_fill(slice_contours(mask), mask.shape), mask)

    check()
    ring = np.ones((5, 5), dtype=bool)
    ring[2, 2] = False  # a hole
    checker = np.indices((4, 4)).sum(axis=0) % 2 == 0  # only diagonal contacts
    for mask in (ring, checker):
        assert np.array_equal(_xor_fill(slice_contours(mask), mask.shape), mask)
