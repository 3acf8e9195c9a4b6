"""``eucaim-lab catalogue search|show`` and ``eucaim-lab ingest``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..cli import print_json

_FILTERS = (
    ("condition", "condition (e.g. lung-cancer or C34)"),
    ("body-part", "body part (e.g. lung, breast)"),
    ("modality", "image modality (DICOM code: CT, MR, PT, ...)"),
    ("manufacturer", "equipment manufacturer (Siemens, GE, Philips, ...)"),
    ("access-condition", "DOWNLOAD, IN_SITU_PROCESSING or REMOTE_PROCESSING"),
    ("access-rights", "PUBLIC, RESTRICTED or NON_PUBLIC"),
    ("provider", "provider / node"),
    ("sex", "male, female, other, unknown"),
    ("license", "licence"),
    ("tier", "interoperability tier 1-3"),
)


def register(sub: Any) -> None:
    cat = sub.add_parser("catalogue", help="search and show datasets of the catalogue")
    csub = cat.add_subparsers(dest="catalogue_command", metavar="ACTION", parser_class=type(cat))
    csub.required = True

    search = csub.add_parser("search", help="list datasets matching filters, with facet counts")
    for name, help_text in _FILTERS:
        search.add_argument(f"--{name}", action="append", metavar="VALUE", help=f"{help_text}; repeat for OR")
    search.add_argument("--min-subjects", type=int, metavar="N", help="at least N subjects")
    search.add_argument("--max-subjects", type=int, metavar="N", help="at most N subjects")
    search.add_argument("--text", help="free-text search in title, description, keywords, labels")
    search.add_argument("--limit", type=int, default=None, help="show at most N datasets")
    search.add_argument("--json", action="store_true", help="print results and facets as JSON")
    search.set_defaults(func=_search)

    show = csub.add_parser("show", help="show one dataset in full")
    show.add_argument("dataset_id", metavar="ID")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=_show)

    ing = sub.add_parser("ingest", help="index a DICOM folder (+ clinical CSV) into the local node as a dataset")
    ing.add_argument("path", metavar="PATH")
    ing.add_argument("--dataset", required=True, metavar="ID", help="new dataset id")
    ing.add_argument("--title", required=True)
    ing.add_argument("--description")
    ing.add_argument("--version", default="1.0.0")
    ing.add_argument("--clinical", metavar="CSV", help="clinical table, one row per subject")
    ing.add_argument("--condition", action="append", metavar="C")
    ing.add_argument("--body-part", action="append", metavar="B")
    ing.add_argument("--access-condition", default=None)
    ing.add_argument("--access-rights", default=None)
    ing.add_argument("--license", default=None)
    ing.add_argument("--provider", default=None)
    ing.add_argument("--data-holder", default=None, metavar="HOLDER", help="account that decides on access")
    ing.add_argument("--keyword", action="append", metavar="WORD")
    ing.add_argument("--doi", default=None)
    ing.add_argument("--workers", type=int, default=None, help="processes for header indexing")
    ing.add_argument("--json", action="store_true", help="print the summary as JSON")
    ing.set_defaults(func=_ingest)


def _catalogue(args: argparse.Namespace) -> Any:
    from ._catalogue import Catalogue

    return Catalogue(args.home)


def _search(args: argparse.Namespace) -> int:
    cat = _catalogue(args)
    filters: dict[str, Any] = {name.replace("-", "_"): getattr(args, name.replace("-", "_")) for name, _ in _FILTERS}
    filters.update(min_subjects=args.min_subjects, max_subjects=args.max_subjects, text=args.text)
    df = cat.search(limit=args.limit, **filters)
    facets = cat.facets(**filters)
    total = cat.count(**filters)
    if args.json:
        print_json({"total": total, "results": df.to_dict(orient="records"), "facets": facets})
        return 0
    if df.empty:
        print("No datasets match." if len(cat) else "The catalogue is empty. Seed it with: eucaim-lab demo")
        return 0
    print(f"{total} dataset(s)")
    header = f"{'ID':<28} {'SUBJ':>5} {'STUD':>5} {'SER':>5}  {'MODALITIES':<12} {'ACCESS':<20} TITLE"
    print(header)
    for row in df.itertuples():
        print(
            f"{row.identifier:<28} {row.subjects_count:>5} {row.studies_count:>5} {row.series_count:>5}  "
            f"{','.join(row.modalities):<12} {row.access_condition:<20} {row.title}"
        )
    print()
    for facet in ("condition", "body_part", "modality", "manufacturer", "access_condition", "provider"):
        counts = facets.get(facet) or {}
        if counts:
            print(f"{facet}: " + ", ".join(f"{v} ({n})" for v, n in counts.items()))
    return 0


def _show(args: argparse.Namespace) -> int:
    cat = _catalogue(args)
    data = cat.get(args.dataset_id).to_json_dict()
    if args.json:
        print_json(data)
        return 0
    width = max(len(k) for k in data)
    for key, value in data.items():
        if isinstance(value, list):
            value = ", ".join(v["id"] if isinstance(v, dict) and "id" in v else str(v) for v in value)
        elif isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items() if v not in (None, [], ()))
        print(f"{key:<{width}}  {value}")
    return 0


def _ingest(args: argparse.Namespace) -> int:
    cat = _catalogue(args)
    metadata = {
        "conditions": args.condition,
        "body_parts": args.body_part,
        "access_condition": args.access_condition,
        "access_rights": args.access_rights,
        "license": args.license,
        "provider": args.provider,
        "data_holder": args.data_holder,
        "keywords": args.keyword,
        "doi": args.doi,
    }
    progress = None if args.json or not sys.stderr.isatty() else _progress
    summary = cat.ingest(
        args.path, dataset_id=args.dataset, title=args.title, description=args.description, version=args.version,
        clinical=args.clinical, workers=args.workers, progress=progress,
        **{k: v for k, v in metadata.items() if v is not None},
    )
    if progress:
        print(file=sys.stderr)
    if args.json:
        print_json(summary)
        return 0
    print(
        f"Ingested {summary['dataset_id']} {summary['version']}: {summary['subjects_count']} subjects, "
        f"{summary['studies_count']} studies, {summary['series_count']} image series "
        f"({', '.join(summary['modalities'])}), {summary['segmentations_count']} segmentations, "
        f"{summary['files_count']} files"
    )
    clinical = summary["clinical"]
    if clinical.get("subjects_without_images"):
        print(f"warning: {len(clinical['subjects_without_images'])} subject(s) of the clinical table have no images, "
              f"e.g. {clinical['subjects_without_images'][0]}")
    if clinical.get("subjects_without_clinical_data"):
        print(f"warning: {len(clinical['subjects_without_clinical_data'])} subject(s) with images have no row in "
              f"the clinical table, e.g. {clinical['subjects_without_clinical_data'][0]}")
    unlinked = [s for s in summary["segmentations"] if not s["linked"]]
    if unlinked:
        print(f"warning: {len(unlinked)} segmentation(s) reference no image series of this dataset")
    for item in summary["skipped"]:
        print(f"skipped {item['path']}: {item['reason']}")
    return 0


def _progress(done: int, total: int) -> None:
    print(f"\rindexing {done}/{total} files", end="", file=sys.stderr, flush=True)
