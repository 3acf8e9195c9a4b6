"""Small real datasets for the access and checkout tests: a few generated CT DICOM files, ingested into a node."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np


def write_ct_series(folder: Path, *, patient: str = "P001", n_slices: int = 3, seed: int = 0) -> list[Path]:
    """Write ``n_slices`` tiny CT images (8x8, int16) of one series with pydicom; returns their paths."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    paths = []
    for i in range(n_slices):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.PatientID = patient
        ds.PatientName = patient
        ds.PatientSex = "F"
        ds.PatientAge = "061Y"
        ds.StudyInstanceUID = study
        ds.SeriesInstanceUID = series
        ds.FrameOfReferenceUID = frame
        ds.StudyDate = "20240105"
        ds.Modality = "CT"
        ds.Manufacturer = "Siemens"
        ds.BodyPartExamined = "LUNG"
        ds.SeriesDescription = "tiny test CT"
        ds.SeriesNumber = 1
        ds.InstanceNumber = i + 1
        ds.ImagePositionPatient = [0.0, 0.0, float(i)]
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.PixelSpacing = [1.0, 1.0]
        ds.SliceThickness = 1.0
        ds.Rows = ds.Columns = 8
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated = ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 1
        ds.RescaleIntercept = 0
        ds.RescaleSlope = 1
        ds.PixelData = rng.integers(-1000, 1000, size=(8, 8), dtype=np.int16).tobytes()
        path = folder / f"slice{i:03d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def ingest_dataset(
    node: Any,
    tmp_path: Path,
    dataset_id: str,
    *,
    holder: str = "hospital-a",
    access_condition: str = "IN_SITU_PROCESSING",
    patients: tuple[str, ...] = ("P001", "P002"),
    version: str = "1.0.0",
) -> dict[str, Any]:
    """Generate a small DICOM folder (one 3-slice CT series per patient) and ingest it into ``node``."""
    from eucaim_lab.catalogue import Catalogue

    src = tmp_path / f"src-{dataset_id}"
    for k, patient in enumerate(patients):
        write_ct_series(src / patient, patient=patient, seed=k)
    return Catalogue(node=node).ingest(
        src, dataset_id=dataset_id, title=f"Test dataset {dataset_id}", version=version, data_holder=holder,
        access_condition=access_condition, conditions=["lung-cancer"], body_parts=["lung"],
    )


def datalake_file(node: Any, dataset_id: str) -> Path:
    """Path of the first catalogued file of a dataset in the datalake."""
    from eucaim_lab.catalogue import Catalogue

    cat = Catalogue(node=node)
    return cat.dataset_root(dataset_id) / cat.files(dataset_id)["relpath"].iloc[0]


def make_writable(path: Path) -> None:
    os.chmod(path, 0o644)


def standard_datasets(node: Any, tmp_path: Path) -> dict[str, str]:
    """Three datasets held by two holders, one per access condition; returns {dataset_id: holder}."""
    specs = {
        "lung-a": ("hospital-a", "IN_SITU_PROCESSING"),
        "lung-b": ("hospital-b", "DOWNLOAD"),
        "remote-c": ("hospital-a", "REMOTE_PROCESSING"),
    }
    for dataset_id, (holder, condition) in specs.items():
        ingest_dataset(node, tmp_path, dataset_id, holder=holder, access_condition=condition)
    return {d: h for d, (h, _) in specs.items()}
