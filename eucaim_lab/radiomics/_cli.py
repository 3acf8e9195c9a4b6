"""``eucaim-lab radiomics extract`` and ``eucaim-lab radiomics ibsi-check``.

``extract`` writes the table (Parquet or CSV, by the extension of ``--out``) and prints a JSON summary. Bad input
(no cases, unknown profile, unreadable parameter file, bad output extension) exits 1 with one line. A batch in
which some cases failed still writes the whole table and exits 0; the summary and a line on stderr say how many
failed (their rows have ``status == "error"`` and the reason in ``error``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from eucaim_lab._errors import InvalidInputError

__all__ = ["register"]


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("radiomics", help="radiomics features at scale (pyradiomics on Dask), IBSI checks")
    sub = p.add_subparsers(dest="radiomics_command", metavar="SUBCOMMAND")
    sub.required = True

    e = sub.add_parser("extract", help="extract features of every case into one table")
    e.add_argument("--cases", required=True,
                   help="pyradiomics batch CSV, folder (DICOM/NIfTI/NRRD), checkout folder or checkout id")
    e.add_argument("--params", default="default",
                   help="profile (default, ibsi-A ... ibsi-E, ibsi-phantom) or pyradiomics YAML file")
    e.add_argument("--workers", type=int, default=None, help="worker processes of the local cluster (default: cores)")
    e.add_argument("--scheduler", default=None, help="address of a running Dask scheduler to use instead")
    e.add_argument("--out", required=True, help="output table, FILE.parquet or FILE.csv")
    e.add_argument("--no-cache", action="store_true", help="compute every case, do not read or write the cache")
    e.add_argument("--retries", type=int, default=2, help="worker deaths allowed per task before giving up")
    e.add_argument("--quiet", action="store_true", help="no progress bar")
    e.set_defaults(func=_extract)

    c = sub.add_parser("ibsi-check", help="compare features of an IBSI phantom with a reference table")
    c.add_argument("--image", required=True, help="phantom image (NIfTI/NRRD)")
    c.add_argument("--mask", required=True, help="phantom mask (every non-zero voxel is the region)")
    c.add_argument("--profile", required=True, help="ibsi-A ... ibsi-E, ibsi-phantom, or a YAML file")
    c.add_argument("--reference", required=True, help="reference CSV in the IBSI 1 compliance-sheet layout")
    c.add_argument("--out", required=True, help="CSV with one row per reference tag")
    c.set_defaults(func=_ibsi_check)


def _write_table(df: Any, out: Path) -> None:
    suffix = out.suffix.lower()
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".parquet":
        df.to_parquet(out, index=False)
    else:
        flat = df.copy()
        flat["qc_flags"] = flat["qc_flags"].map(lambda flags: " | ".join(flags))
        flat.to_csv(out, index=False)


def _extract(args: argparse.Namespace) -> int:
    from eucaim_lab.cli import print_json
    from eucaim_lab.radiomics import extract

    out = Path(args.out)
    if out.suffix.lower() not in (".parquet", ".csv"):
        raise InvalidInputError(f"--out must end in .parquet or .csv. Got {args.out!r}.")
    df = extract(args.cases, args.params, args.scheduler, workers=args.workers, cache=not args.no_cache,
                 progress=not args.quiet, retries=args.retries, home=args.home)
    if len(df) == 0:
        raise InvalidInputError(f"No cases found in {args.cases}: expected image/mask pairs, DICOM with SEG or "
                                "RTSTRUCT, or a pyradiomics batch CSV.")
    _write_table(df, out)
    failed = int(df.attrs["failed"])
    if failed:
        print(f"eucaim-lab: {failed} of {len(df)} cases failed (status 'error' in {out})", file=sys.stderr)
    print_json({
        "out": str(out), "cases": len(df), "ok": len(df) - failed, "failed": failed,
        "computed": df.attrs["computed"], "from_cache": df.attrs["from_cache"],
        "skipped_inputs": len(df.attrs["skipped"]), "features": len(df.columns) - 11, "settings": df.attrs["settings"], "wall_s": round(df.attrs["wall_s"], 2),
    })
    return 0


def _ibsi_check(args: argparse.Namespace) -> int:
    from eucaim_lab.radiomics import ibsi_check

    df = ibsi_check(args.image, args.mask, args.profile, args.reference, args.out)
    a = df.attrs
    print(f"{a['within']} of {a['compared']} within tolerance ({a['mapped']} of {len(df)} reference tags mapped to "
          f"pyradiomics; {a['total']} have a reference value). Table: {args.out}")
    return 0
