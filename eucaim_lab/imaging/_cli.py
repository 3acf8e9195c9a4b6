"""``eucaim-lab imaging discover PATH [--check]``: list the cases a folder, checkout or batch CSV holds.

Prints JSON: ``cases`` (id, patient, modality, roi, label, image and mask sources) and ``skipped`` (path, reason).
With ``--check`` every case is loaded and checked: each case gets ``qc`` (``severity:code: message``) or ``error``
(why it cannot be loaded); the command still exits 0, as a batch would go on. A path that does not exist, or a
file that is not a batch CSV, exits 1 with one line.
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register"]


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "imaging", help="find and check (image, region) cases in folders and batch CSVs"
    )
    sub = p.add_subparsers(dest="imaging_command", metavar="SUBCOMMAND")
    sub.required = True
    d = sub.add_parser(
        "discover", help="list the cases under a folder or checkout, or in a pyradiomics batch CSV"
    )
    d.add_argument(
        "path", help="folder (DICOM with SEG/RTSTRUCT, NIfTI/NRRD pairs), checkout folder or batch CSV"
    )
    d.add_argument("--check", action="store_true", help="load every case and run the quality checks")
    d.set_defaults(func=_discover)


def _discover(args: argparse.Namespace) -> int:
    from eucaim_lab.cli import print_json
    from eucaim_lab.imaging import CaseError, discover_cases, quality_checks

    cases = discover_cases(args.path)
    rows = []
    images: dict[str, Any] = {}
    for case in cases:
        row: dict[str, Any] = {
            "case_id": case.case_id,
            "patient_id": case.patient_id,
            "modality": case.modality,
            "roi": case.roi,
            "label": case.label,
            "image": {"kind": case.image.kind, "files": len(case.image.paths), "first": case.image.paths[0]},
            "mask": {
                "kind": case.mask.kind,
                "path": case.mask.path,
                "number": case.mask.segment_number or case.mask.roi_number,
            },
        }
        if args.check:
            try:
                if case.image_key not in images:
                    images[case.image_key] = case.load_image()
                image = images[case.image_key]
                mask = case.load_mask(image)
                row["qc"] = [
                    f"{f.severity}:{f.code}: {f.message}" for f in quality_checks(image, mask, case.label)
                ]
            except CaseError as exc:
                row["error"] = exc.message
        rows.append(row)
    print_json({"cases": rows, "skipped": [{"path": s.path, "reason": s.reason} for s in cases.skipped]})
    return 0
