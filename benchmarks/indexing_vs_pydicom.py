"""Benchmark: eucaim_lab's header indexer against a plain pydicom read loop, over the same files in one run.

    .venv/bin/python benchmarks/indexing_vs_pydicom.py [--folder F ...] [--repeat N] [--files N]

Anchor: ``for f in files: pydicom.dcmread(f)`` (a full read, what a script that walks a folder usually does).
Candidate: ``index_folder(folder)`` with default settings (quick header scanner, process pool where it pays).
Both run on a warm file cache (every file is read once before timing); the best of ``--repeat`` runs counts.
Default input: ~2000 generated CT files (512x512 int16 pixels, a realistic header with sequences and private
tags) written to a temporary folder, plus ``../shared/data/sts-cohort`` when present. The indexer also walks
the folders' non-DICOM files (it opens them to say why it skips them); the anchor reads only the DICOM files.
Prints a summary and one markdown table row for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from eucaim_lab.catalogue._indexer import index_folder

REPO = Path(__file__).resolve().parents[1]
STS = Path(os.environ.get("EUCAIM_SHARED_DATA", REPO.parent / "shared" / "data")) / "sts-cohort"


def _ct_template() -> Dataset:
    """A CT header shaped like a scanner's: ~110 elements, two sequences, a private block."""
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.InstanceCreationDate, ds.InstanceCreationTime = "20240312", "101530"
    ds.SOPClassUID = CTImageStorage
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = "20240312"
    ds.StudyTime = ds.SeriesTime = ds.AcquisitionTime = ds.ContentTime = "101010"
    ds.AccessionNumber = "ACC0001"
    ds.Modality = "CT"
    ds.Manufacturer = "ACME Medical"
    ds.InstitutionName = "Hospital"
    ds.ReferringPhysicianName = "Doe^John"
    ds.StationName = "CT01"
    ds.StudyDescription = "CT THORAX WITH CONTRAST"
    ds.SeriesDescription = "Thorax 1.0 B31f"
    ds.ManufacturerModelName = "Scanner 128"
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "CTTHX", "L", "CT THORAX"
    ds.ProcedureCodeSequence = Sequence([code])
    ds["ProcedureCodeSequence"].is_undefined_length = True
    ds.PatientName = "Anon^Patient"
    ds.PatientBirthDate = "19600101"
    ds.PatientSex = "F"
    ds.PatientAge = "064Y"
    ds.PatientWeight = "70"
    ds.BodyPartExamined = "CHEST"
    ds.ScanOptions = "HELICAL_CT"
    ds.SliceThickness = "1.0"
    ds.KVP = "120"
    ds.DataCollectionDiameter = "500"
    ds.SoftwareVersions = "VA48A"
    ds.ProtocolName = "Thorax"
    ds.ReconstructionDiameter = "380"
    ds.DistanceSourceToDetector = "1085.6"
    ds.DistanceSourceToPatient = "595"
    ds.GantryDetectorTilt = "0"
    ds.TableHeight = "150"
    ds.RotationDirection = "CW"
    ds.ExposureTime = "500"
    ds.XRayTubeCurrent = "200"
    ds.Exposure = "100"
    ds.FilterType = "FLAT"
    ds.GeneratorPower = "24"
    ds.FocalSpots = "1.2"
    ds.ConvolutionKernel = "B31f"
    ds.PatientPosition = "FFS"
    ds.StudyID = "1"
    ds.SeriesNumber = "2"
    ds.AcquisitionNumber = "1"
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PositionReferenceIndicator = ""
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = ds.Columns = 512
    ds.PixelSpacing = [0.742, 0.742]
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 1
    ds.WindowCenter, ds.WindowWidth = "40", "400"
    ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = "-1024", "1", "HU"
    block = ds.private_block(0x0019, "ACME CT HEADER", create=True)
    for offset in range(24):
        block.add_new(offset, "LO", f"private value {offset}")
    return ds


def generate(folder: Path, count: int) -> None:
    """``count`` CT files in series of 200 slices, 512x512 int16, Explicit VR Little Endian."""
    template = _ct_template()
    rng = np.random.default_rng(0)
    pixels = rng.integers(-1024, 2000, size=(512, 512), dtype=np.int16).tobytes()
    study = generate_uid()
    for i in range(count):
        if i % 200 == 0:
            series, frame = generate_uid(), generate_uid()
            patient = f"BENCH{i // 200:03d}"
        ds = template.copy()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = generate_uid()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.PatientID = patient
        ds.InstanceNumber = i % 200 + 1
        ds.ImagePositionPatient = [-190.0, -190.0, -(i % 200) * 1.0]
        ds.SliceLocation = -(i % 200) * 1.0
        ds.PixelData = pixels
        out = folder / f"series{i // 200:02d}" / f"{i % 200:04d}"  # no extension, as from a scanner
        out.parent.mkdir(parents=True, exist_ok=True)
        ds.save_as(out, enforce_file_format=True)


def _warm(paths: list[Path]) -> int:
    total = 0
    for p in paths:
        with open(p, "rb") as fh:
            while chunk := fh.read(1 << 20):
                total += len(chunk)
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", action="append", type=Path, help="folder to index (repeatable)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each; the best counts (3)")
    parser.add_argument("--files", type=int, default=2000, help="generated CT files when no --folder (2000)")
    args = parser.parse_args(argv)

    tmp = None
    folders: list[Path] = list(args.folder or [])
    if not folders:
        tmp = Path(tempfile.mkdtemp(prefix="eucaim-bench-"))
        t0 = time.perf_counter()
        generate(tmp / "ct", args.files)
        print(f"generated {args.files} CT files in {time.perf_counter() - t0:.1f} s under {tmp}", flush=True)
        folders.append(tmp / "ct")
        if STS.is_dir():
            folders.append(STS)
    try:
        # the files both sides read: what the indexer accepts as DICOM (the anchor cannot read the rest)
        results = [index_folder(f) for f in folders]
        files = [Path(h.path) for r in results for h in r.instances]
        walked = sum(len(r.instances) + len(r.skipped) for r in results)
        skipped = [Path(s.path) for r in results for s in r.skipped]
        size = _warm(files + skipped)
        anchor, indexed, sequential = [], [], []
        cpu_anchor, cpu_sequential = [], []  # CPU seconds: comparable even on a busy machine
        for _ in range(args.repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            for f in files:
                pydicom.dcmread(f)
            anchor.append(time.perf_counter() - t0)
            cpu_anchor.append(time.process_time() - c0)
            t0 = time.perf_counter()
            got = sum(len(index_folder(f).instances) for f in folders)
            indexed.append(time.perf_counter() - t0)
            t0, c0 = time.perf_counter(), time.process_time()
            sum(len(index_folder(f, workers=1).instances) for f in folders)
            sequential.append(time.perf_counter() - t0)
            cpu_sequential.append(time.process_time() - c0)
            assert got == len(files)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)

    n = len(files)
    rate_anchor, rate_index, rate_seq = n / min(anchor), n / min(indexed), n / min(sequential)
    ratio = rate_index / rate_anchor
    nproc = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    python = platform.python_version()
    print(
        f"{n} DICOM files ({walked} walked, {size / 1e6:.0f} MB), best of {args.repeat}, "
        f"load average {load:.1f} on {nproc} CPUs"
    )
    print(f"  pydicom.dcmread loop      {rate_anchor:8.0f} files/s")
    print(f"  index_folder (default)    {rate_index:8.0f} files/s   x{ratio:.2f}")
    print(f"  index_folder (workers=1)  {rate_seq:8.0f} files/s   x{rate_seq / rate_anchor:.2f}")
    us_anchor, us_seq = min(cpu_anchor) / n * 1e6, min(cpu_sequential) / n * 1e6
    print(
        f"  CPU per file: dcmread {us_anchor:.0f} us, index_folder(workers=1) {us_seq:.0f} us "
        f"(x{us_anchor / us_seq:.2f})"
    )
    print()
    print(
        "| date | machine | Python / pydicom | files | `dcmread` loop (files/s) | `index_folder` (files/s) "
        "| ratio | `index_folder(workers=1)` (files/s) | CPU/file dcmread / indexer (us) |"
    )
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {dt.date.today()} | {nproc} CPUs {platform.machine()}, load {load:.1f} | {python} / "
        f"{pydicom.__version__} | {n} | {rate_anchor:.0f} | {rate_index:.0f} | {ratio:.2f}x "
        f"| {rate_seq:.0f} | {us_anchor:.0f} / {us_seq:.0f} |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
