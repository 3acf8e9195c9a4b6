"""``eucaim-lab demo``: seed the local node with the demo cohort; ``--headless`` runs the whole workflow."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..cli import print_json


def register(sub: Any) -> None:
    p = sub.add_parser("demo", help="seed the local node with the generated demo cohort")
    p.add_argument("--headless", action="store_true",
                   help="also run the whole workflow (search, access, checkout, sandboxed kernel, radiomics, model) "
                        "and print a JSON summary")
    p.add_argument("--if-empty", action="store_true", help="do nothing if the catalogue already holds datasets")
    p.add_argument("--seed", type=int, default=0, help="random seed of the generated cohort")
    p.add_argument("--scale", type=float, default=1.0, help="multiply the number of patients per dataset")
    p.add_argument("--json", action="store_true", help="print the seeding summary as JSON")
    p.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    from ..catalogue import Catalogue
    from ._seed import seed_node

    def said(summary: dict[str, Any]) -> None:
        if not args.json and not args.headless:
            print(f"seeded {summary['dataset_id']}: {summary['subjects_count']} subjects, "
                  f"{summary['series_count']} image series, {summary['segmentations_count']} segmentations",
                  file=sys.stderr)

    summaries = seed_node(args.home, seed=args.seed, scale=args.scale, if_empty=args.if_empty, on_dataset=said)
    cat = Catalogue(args.home)
    if args.headless:
        from ._workflow import run_workflow

        print_json(run_workflow(cat, seeded=summaries))
        return 0
    if args.json:
        print_json({"seeded": summaries, "datasets": cat.ids(), "home": str(cat.node.home)})
        return 0
    if args.if_empty and not summaries:
        print(f"The node at {cat.node.home} already holds {len(cat)} dataset(s); nothing seeded.")
    print(f"Local node {cat.node.home}: {len(cat)} dataset(s)")
    for row in cat.search().to_dict(orient="records"):
        modalities = ",".join(row["modalities"])
        print(f"  {row['identifier']:<24} {row['subjects_count']:>4} subjects  {modalities:<8} "
              f"{row['access_condition']:<20} {row['title']}")
    return 0
