"""DICOM SEG masks: time to load every segment of one multi-segment SEG on its image, as radiomics does.

Radiomics groups cases by image, loads the image once and then each case's mask (``case.load_mask(image)``) in
the same process. This measures that loop for: a synthetic CT (ROWSxCOLSxSLICES, default 64x64x40) with a SEG of
``--segments`` (default 8) BINARY segments written with highdicom into a temporary folder, and the multi-segment
SEGs of ../shared/data/dicom/dcmqi-ct-3slice-seg (when present). Each run starts from an empty SEG cache, so the
first mask pays for decoding the SEG; ``--repeat`` runs give the best time.

    .venv/bin/python benchmarks/seg_loading.py [--size 64 64 40] [--segments 8] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

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


def time_groups(root: Path, repeat: int) -> list[tuple[str, int, float, float]]:
    """(SEG file, segments, seconds for the first mask, seconds for all masks) per multi-segment SEG under root."""
    from eucaim_lab.imaging import discover_cases
    from eucaim_lab.imaging import _seg

    groups = defaultdict(list)
    for case in discover_cases(root):
        if case.mask.kind == "seg":
            groups[case.mask.path].append(case)
    rows = []
    for path, cases in sorted(groups.items()):
        if len(cases) < 2:
            continue
        image = cases[0].load_image()
        best_first = best_all = float("inf")
        for _ in range(repeat):
            clear = getattr(_seg, "clear_seg_cache", None)
            if clear is not None:
                clear()
            t0 = time.perf_counter()
            for i, case in enumerate(cases):
                case.load_mask(image)
                if i == 0:
                    first = time.perf_counter() - t0
            best_all = min(best_all, time.perf_counter() - t0)
            best_first = min(best_first, first)
        rows.append((str(Path(path).relative_to(root)), len(cases), best_first, best_all))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, nargs=3, default=(64, 64, 40), metavar=("ROWS", "COLS", "SLICES"))
    parser.add_argument("--segments", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"python {sys.version.split()[0]}, best of {args.repeat}")
    print(f"{'SEG':<48} {'segments':>8} {'first mask s':>13} {'all masks s':>12} {'per mask s':>11}")
    with tempfile.TemporaryDirectory() as tmp:
        rows, cols, slices = args.size
        write_ct_and_seg(Path(tmp), rows, cols, slices, args.segments)
        results = [(f"synthetic {rows}x{cols}x{slices}", *r[1:]) for r in time_groups(Path(tmp), args.repeat)]
    dcmqi = SHARED / "dicom" / "dcmqi-ct-3slice-seg"
    if dcmqi.is_dir():
        results += [(f"dcmqi {name}", *r) for name, *r in time_groups(dcmqi, args.repeat)]
    for name, n, first, total in results:
        print(f"{name:<48} {n:>8} {first:>13.3f} {total:>12.3f} {total / n:>11.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
