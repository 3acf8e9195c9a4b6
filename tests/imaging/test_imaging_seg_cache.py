"""The masks of the N segments of one DICOM SEG cost one decode of the SEG, and stay the masks of the file on disk."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import shared_data

from eucaim_lab.imaging import Case, _seg, clear_seg_cache, discover_cases

ROWS, COLS, SLICES, SEGMENTS = 12, 16, 5, 4
SEG_SERIES_UID, SEG_SOP_UID = "1.2.826.0.1.3680043.8.498.1", "1.2.826.0.1.3680043.8.498.2"


def write_ct(folder: Path) -> list:
    """A CT series of SLICES files; returns the pydicom datasets (the SEG's source images)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    folder.mkdir(parents=True)
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    datasets = []
    for k in range(SLICES):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = sop = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, sop
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.Modality, ds.PatientID, ds.PatientName = "CT", "SEGCACHE", "Seg^Cache"
        ds.PatientBirthDate, ds.PatientSex, ds.StudyDate, ds.StudyTime = "19700101", "O", "20260101", "120000"
        ds.AccessionNumber, ds.ReferringPhysicianName, ds.StudyID = "A1", "", "1"
        ds.SeriesNumber, ds.InstanceNumber = 1, k + 1
        ds.Rows, ds.Columns = ROWS, COLS
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [-5.0, 3.0, 1.5 * k]
        ds.PixelSpacing, ds.SliceThickness = [0.9, 0.7], 1.5
        ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.PixelData = (np.arange(ROWS * COLS, dtype=np.uint16) + 100 * k).tobytes()
        ds.save_as(folder / f"slice_{k}.dcm", enforce_file_format=True)
        datasets.append(ds)
    return datasets


def boxes(shift: int, segments: int = SEGMENTS) -> np.ndarray:
    """(slices, rows, cols, segments) overlapping boxes; every segment covers the same slices whatever ``shift``."""
    labels = np.zeros((SLICES, ROWS, COLS, segments), dtype=np.uint8)
    for s in range(segments):
        labels[1:4, s + shift : s + shift + 5, 2 * s + shift : 2 * s + shift + 6, s] = 1
    return labels


def write_seg(path: Path, sources: list, labels: np.ndarray) -> None:
    import highdicom as hd
    from pydicom.sr.codedict import codes

    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=s + 1,
            segment_label=f"Region{s + 1}",
            segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
            segmented_property_type=codes.SCT.Neoplasm,
            algorithm_type="MANUAL",
        )
        for s in range(labels.shape[-1])
    ]
    hd.seg.Segmentation(
        source_images=sources,
        pixel_array=labels,
        segmentation_type="BINARY",
        segment_descriptions=descriptions,
        series_instance_uid=SEG_SERIES_UID,
        series_number=2,
        sop_instance_uid=SEG_SOP_UID,
        instance_number=1,
        manufacturer="test",
        manufacturer_model_name="test",
        software_versions="0",
        device_serial_number="0",
    ).save_as(path)


@pytest.fixture(autouse=True)
def empty_cache():
    clear_seg_cache()
    yield
    clear_seg_cache()


@pytest.fixture()
def decodes(monkeypatch):
    """Paths of every SEG decode (``highdicom.seg.segread``) made while the test runs, in order."""
    seen: list[str] = []
    original = _seg._segread

    def counting(path):
        seen.append(path)
        return original(path)

    monkeypatch.setattr(_seg, "_segread", counting)
    return seen


@pytest.fixture()
def synthetic(tmp_path):
    sources = write_ct(tmp_path / "ct")
    labels = boxes(0)
    write_seg(tmp_path / "seg.dcm", sources, labels)
    return tmp_path, sources, labels


def _seg_cases(root) -> list[Case]:
    cases = sorted((c for c in discover_cases(root) if c.mask.kind == "seg"), key=lambda c: c.mask.segment_number)
    assert len({c.image_key for c in cases}) == 1
    return cases


def _masks(cases: list[Case], image) -> dict[int, np.ndarray]:
    import SimpleITK as sitk

    return {c.mask.segment_number: sitk.GetArrayFromImage(c.load_mask(image)) for c in cases}


def test_segments_of_one_seg_decode_it_once_and_match_uncached_masks(synthetic, decodes, monkeypatch):
    root, _sources, labels = synthetic
    cases = _seg_cases(root)
    assert [c.mask.segment_number for c in cases] == list(range(1, SEGMENTS + 1))
    image = cases[0].load_image()

    cached = _masks(cases, image)
    assert len(decodes) == 1
    assert _masks(cases, image).keys() == cached.keys() and len(decodes) == 1  # a second pass: still cached

    monkeypatch.setattr(_seg, "SEG_CACHE_ENTRIES", 0)
    clear_seg_cache()
    uncached = _masks(cases, image)
    assert len(decodes) == 1 + SEGMENTS
    for number in range(1, SEGMENTS + 1):
        assert np.array_equal(cached[number], uncached[number]), number
        assert np.array_equal(cached[number], labels[..., number - 1]), number
    # the segments overlap, so a mask mixed up with another segment's would have been seen
    assert (labels.sum(axis=-1) > 1).any()


def test_rewritten_seg_is_read_again(synthetic, decodes):
    root, sources, _labels = synthetic
    path = root / "seg.dcm"
    cases = _seg_cases(root)
    image = cases[0].load_image()
    before = _masks(cases, image)
    assert len(decodes) == 1

    # same path, same size, new pixels (written in place: same inode); wait out coarse file-time granularity.
    # The shifted boxes cover the same slices, so their SEG has the same frames: its pixel data, put in the old
    # file's dataset, gives the shifted SEG in a file of exactly the old size
    import pydicom

    shifted = boxes(1)
    write_seg(root / "shifted.dcm", sources, shifted)
    dataset = pydicom.dcmread(path)
    dataset.PixelData = pydicom.dcmread(root / "shifted.dcm").PixelData
    (root / "shifted.dcm").unlink()
    size, inode = path.stat().st_size, path.stat().st_ino
    time.sleep(0.05)
    dataset.save_as(path)
    assert (path.stat().st_size, path.stat().st_ino) == (size, inode)
    after = _masks(cases, image)
    assert len(decodes) == 2
    for number in range(1, SEGMENTS + 1):
        assert np.array_equal(after[number], shifted[..., number - 1]), number
        assert not np.array_equal(after[number], before[number]), number

    # replaced by a file with one segment more: the new segment is found without rediscovery of the old cases
    write_seg(path, sources, boxes(0, SEGMENTS + 1))
    extra = Case("extra", None, "CT", "Region5", cases[0].image, _seg_mask_ref(path, SEGMENTS + 1))
    assert _masks([extra], image)[SEGMENTS + 1].sum() == boxes(0, SEGMENTS + 1)[..., SEGMENTS].sum()
    assert len(decodes) == 3


def _seg_mask_ref(path: Path, number: int):
    from eucaim_lab.imaging import MaskRef

    return MaskRef("seg", str(path), segment_number=number)


def test_cache_is_bounded_by_entries_and_bytes(synthetic, decodes, monkeypatch):
    root, sources, _labels = synthetic
    write_seg(root / "other.dcm", sources, boxes(2))
    cases = _seg_cases(root)  # both SEG files reference the same CT series
    first = [c for c in cases if c.mask.path.endswith("seg.dcm")][0]
    second = [c for c in cases if c.mask.path.endswith("other.dcm")][0]
    image = first.load_image()

    monkeypatch.setattr(_seg, "SEG_CACHE_ENTRIES", 1)
    for case in (first, second, first, second):
        case.load_mask(image)
    assert len(decodes) == 4  # one entry: each file pushes the other out
    monkeypatch.setattr(_seg, "SEG_CACHE_ENTRIES", 2)
    clear_seg_cache()
    for case in (first, second, first, second):
        case.load_mask(image)
    assert len(decodes) == 6

    clear_seg_cache()
    monkeypatch.setattr(_seg, "SEG_CACHE_BYTES", (root / "seg.dcm").stat().st_size - 1)
    first.load_mask(image)
    first.load_mask(image)
    assert len(decodes) == 8  # a file larger than the byte budget is never kept
    assert len(_seg._cache) == 0


def test_another_thread_gets_its_own_decode(synthetic, decodes):
    """highdicom's frame index may only be used by the thread that made it: a cached object is not shared."""
    root, _sources, labels = synthetic
    (case, *_rest) = _seg_cases(root)
    image = case.load_image()
    here = _masks([case], image)[1]
    results: list[object] = []

    def load() -> None:
        try:
            results.append(_masks([case], image)[1])
        except Exception as exc:  # noqa: BLE001 - handed back to the test thread
            results.append(exc)

    worker = threading.Thread(target=load)
    worker.start()
    worker.join()
    (there,) = results
    assert isinstance(there, np.ndarray) and np.array_equal(there, here)
    assert np.array_equal(here, labels[..., 0])
    assert len(decodes) == 2


@pytest.mark.shared_data
def test_dcmqi_overlapping_segments_one_decode(decodes, monkeypatch):
    root = shared_data("dicom", "dcmqi-ct-3slice-seg")
    cases = [c for c in discover_cases(root) if c.mask.path.endswith("partial_overlaps.dcm")]
    assert len(cases) == 5
    image = cases[0].load_image()
    cached = _masks(cases, image)
    assert len(decodes) == 1
    monkeypatch.setattr(_seg, "SEG_CACHE_ENTRIES", 0)
    uncached = _masks(cases, image)
    assert len(decodes) == 6
    assert all(np.array_equal(cached[n], uncached[n]) for n in cached)
