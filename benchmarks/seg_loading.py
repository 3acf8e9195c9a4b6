"""DICOM SEG masks: time to load every segment of one multi-segment SEG on its image, as radiomics does.

Radiomics groups cases by image, loads the image once and then each case's mask (``case.load_mask(image)``) in
the same process. This measures that loop, with the SEG cache off (anchor: every mask decodes the SEG again, the
behaviour before the cache) and on, for: synthetic CTs (``--size ROWS COLS SLICES``, default 64x64x40 and
512x512x100) each with a SEG of ``--segments`` (default 8) overlapping BINARY segments written with highdicom into a
temporary folder, and the multi-segment SEGs of ../shared/data/dicom/dcmqi-ct-3slice-seg (when present). Every run
starts from an empty cache; the best of ``--repeat`` runs is shown. The masks of both runs are checked equal.

    .venv/bin/python benchmarks/seg_loading.py [--size 64 64 40 --size 512 512 100] [--segments 8] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("EUCAIM_SHARED_DATA", REPO.parent / "shared" / "data"))


def write_ct_and_seg(folder: Path, rows: int, cols: int, slices: int, segments: int) -> None:
    """A CT series (one file per slice) and a BINARY SEG with ``segments`` overlapping boxes on it."""
    import highdicom as hd
    import numpy as np
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sr.codedict import codes
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    ct = folder / "ct"
    ct.mkdir(parents=True)
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    rng = np.random.default_rng(0)
    sources = []
    for k in range(slices):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = sop = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, sop
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.Modality, ds.PatientID, ds.PatientName = "CT", "BENCH", "Bench^Seg"
        ds.PatientBirthDate, ds.PatientSex, ds.StudyDate, ds.StudyTime = "19700101", "O", "20260101", "120000"
        ds.AccessionNumber, ds.ReferringPhysicianName, ds.StudyID = "A1", "", "1"
        ds.SeriesNumber, ds.InstanceNumber = 1, k + 1
        ds.Rows, ds.Columns = rows, cols
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [0.0, 0.0, 2.0 * k]
        ds.PixelSpacing, ds.SliceThickness = [0.8, 0.8], 2.0
        ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.PixelData = rng.integers(0, 2000, (rows, cols), dtype=np.uint16).tobytes()
        ds.save_as(ct / f"slice_{k:04d}.dcm", enforce_file_format=True)
        sources.append(ds)
    labels = np.zeros((slices, rows, cols, segments), dtype=np.uint8)
    for s in range(segments):
        z0, y0, x0 = (int(v) for v in rng.integers(0, [slices // 2, rows // 2, cols // 2]))
        labels[z0 : z0 + slices // 2, y0 : y0 + rows // 2, x0 : x0 + cols // 2, s] = 1
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=s + 1,
            segment_label=f"Region{s + 1}",
            segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
            segmented_property_type=codes.SCT.Neoplasm,
            algorithm_type="MANUAL",
        )
        for s in range(segments)
    ]
    seg = hd.seg.Segmentation(
        source_images=sources,
        pixel_array=labels,
        segmentation_type="BINARY",
        segment_descriptions=descriptions,
        series_instance_uid=generate_uid(),
        series_number=2,
        sop_instance_uid=generate_uid(),
        instance_number=1,
        manufacturer="bench",
        manufacturer_model_name="bench",
        software_versions="0",
        device_serial_number="0",
    )
    seg.save_as(folder / "seg.dcm")


def _best_time(cases: list[Any], image: Any, repeat: int) -> tuple[float, list[Any]]:
    """Best wall time of loading every case's mask from an empty SEG cache, and the masks (as arrays)."""
    import SimpleITK as sitk

    from eucaim_lab.imaging import clear_seg_cache

    best = float("inf")
    masks: list[Any] = []
    for _ in range(repeat):
        clear_seg_cache()
        t0 = time.perf_counter()
        loaded = [case.load_mask(image) for case in cases]
        best = min(best, time.perf_counter() - t0)
        masks = [sitk.GetArrayFromImage(m) for m in loaded]
    clear_seg_cache()
    return best, masks


def time_groups(root: Path, repeat: int) -> list[tuple[str, int, float, float]]:
    """(SEG file, segments, seconds without cache, seconds with cache) for every multi-segment SEG under root."""
    import numpy as np

    from eucaim_lab.imaging import _seg, discover_cases

    groups = defaultdict(list)
    for case in discover_cases(root):
        if case.mask.kind == "seg":
            groups[case.mask.path].append(case)
    rows = []
    entries = _seg.SEG_CACHE_ENTRIES
    for path, cases in sorted(groups.items()):
        if len(cases) < 2:
            continue
        image = cases[0].load_image()
        _seg.SEG_CACHE_ENTRIES = 0
        try:
            uncached, expected = _best_time(cases, image, repeat)
        finally:
            _seg.SEG_CACHE_ENTRIES = entries
        cached, got = _best_time(cases, image, repeat)
        if not all(np.array_equal(a, b) for a, b in zip(expected, got, strict=True)):
            raise SystemExit(f"masks differ with and without the SEG cache: {path}")
        rows.append((str(Path(path).relative_to(root)), len(cases), uncached, cached))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--size", type=int, nargs=3, action="append", metavar=("ROWS", "COLS", "SLICES"),
        help="synthetic CT size (repeatable; default 64 64 40 and 512 512 100)",
    )
    parser.add_argument("--segments", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    sizes = args.size or [(64, 64, 40), (512, 512, 100)]
    results = []
    for rows, cols, slices in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            write_ct_and_seg(Path(tmp), rows, cols, slices, args.segments)
            results += [(f"synthetic {rows}x{cols}x{slices}", *r[1:]) for r in time_groups(Path(tmp), args.repeat)]
    dcmqi = SHARED / "dicom" / "dcmqi-ct-3slice-seg"
    if dcmqi.is_dir():
        results += [(f"dcmqi {name}", *r) for name, *r in time_groups(dcmqi, args.repeat)]
    print(f"python {sys.version.split()[0]}, best of {args.repeat}, seconds to load every segment's mask")
    print(f"| SEG | segments | no cache (anchor) s | cache s | speed-up |\n|---|---:|---:|---:|---:|")
    for name, n, uncached, cached in results:
        print(f"| {name} | {n} | {uncached:.3f} | {cached:.3f} | {uncached / cached:.1f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
