"""Catalogue search latency on a generated index of 1,000,000 series in 10,000 datasets.

Anchor in the same run: the same faceted question answered by DuckDB over a Parquet export of the same
index (the approach of NCI IDC's idc-index, ~20 ms on its 1M-series index).

    .venv/bin/python benchmarks/catalogue_search.py [--datasets 10000] [--series-per-dataset 100] [--queries 300]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path

from eucaim_lab.catalogue import Catalogue, DatasetRecord
from eucaim_lab.catalogue._vocab import AccessCondition, BodyPart, Condition, Modality

MANUFACTURERS = ["Siemens", "GE", "Philips", "Toshiba", "Canon", "Hitachi"]
PROVIDERS = [f"node-{i}" for i in range(12)]


def generate(cat: Catalogue, n_datasets: int, per_dataset: int, rng: random.Random) -> None:
    conditions = list(Condition)
    body_parts = list(BodyPart)
    modalities = [Modality.CT, Modality.MR, Modality.PT, Modality.NM, Modality.MG, Modality.US]
    for i in range(n_datasets):
        mods = rng.sample(modalities, rng.randint(1, 3))
        manus = rng.sample(MANUFACTURERS, rng.randint(1, 3))
        rec = DatasetRecord.build(
            identifier=f"ds-{i:05d}",
            title=f"{rng.choice(['Retrospective', 'Prospective', 'Screening', 'Trial'])} cohort {i}",
            description="Generated dataset for the search benchmark",
            data_holder=f"holder-{i % 50}",
            conditions=[rng.choice(conditions)],
            body_parts=[rng.choice(body_parts)],
            modalities=mods,
            manufacturers=manus,
            subjects_count=rng.randint(1, 5000),
            studies_count=per_dataset // 2,
            series_count=per_dataset,
            access_condition=rng.choice(list(AccessCondition)),
            provider=rng.choice(PROVIDERS),
            keywords=[rng.choice(["radiomics", "segmentation", "outcome", "survival", "ai"])],
            sex={"male": rng.randint(0, 100), "female": rng.randint(0, 100)},
        )
        series = [
            {
                "series_uid": f"1.2.826.0.1.{i}.{j}", "study_uid": f"1.2.826.0.1.{i}.s{j // 2}",
                "patient_id": f"P{i}-{j // 4}", "modality": rng.choice(mods).value, "kind": "image",
                "manufacturer": rng.choice(manus), "files_count": 100, "size_bytes": 52_428_800,
                "folder": f"P{i}-{j // 4}/s{j // 2}/{j}",
            }
            for j in range(per_dataset)
        ]
        cat.add(rec, series=series)


def random_filters(rng: random.Random) -> dict:
    choices = [
        ("modality", lambda: rng.choice(["CT", "MR", "PT"])),
        ("condition", lambda: rng.choice(list(Condition)).value),
        ("body_part", lambda: rng.choice(list(BodyPart)).value),
        ("manufacturer", lambda: rng.choice(MANUFACTURERS)),
        ("access_condition", lambda: rng.choice(list(AccessCondition)).value),
        ("provider", lambda: rng.choice(PROVIDERS)),
    ]
    filters = {name: make() for name, make in rng.sample(choices, rng.randint(1, 3))}
    if rng.random() < 0.3:
        filters["min_subjects"] = rng.choice([10, 100, 1000])
    if rng.random() < 0.2:
        filters["text"] = rng.choice(["screening", "radiom", "trial cohort"])
    return filters


def ours(cat: Catalogue, filters: dict) -> tuple[int, int]:
    page = cat.search(limit=50, **filters)
    facets = cat.facets(**filters)
    return len(page), sum(facets["modality"].values())


def duckdb_anchor(con, filters: dict) -> int:
    where = []
    params = []
    for key in ("modality", "manufacturer"):
        if key in filters:
            where.append(f"s.{key} = ?")
            params.append(filters[key])
    for key in ("condition", "body_part", "access_condition", "provider"):
        if key in filters:
            where.append(f"d.{key} = ?")
            params.append(filters[key])
    if "min_subjects" in filters:
        where.append("d.subjects_count >= ?")
        params.append(filters["min_subjects"])
    sql = (
        "SELECT s.modality, COUNT(DISTINCT s.dataset_id) FROM series s JOIN datasets d ON d.id = s.dataset_id "
        f"WHERE {' AND '.join(where) or 'TRUE'} GROUP BY s.modality"
    )
    return len(con.execute(sql, params).fetchall())


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets", type=int, default=10_000)
    ap.add_argument("--series-per-dataset", type=int, default=100)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--home", default=None, help="reuse a generated node folder")
    args = ap.parse_args()
    rng = random.Random(7)
    home = Path(args.home or tempfile.mkdtemp(prefix="eucaim-search-bench-"))
    cat = Catalogue(home)
    if len(cat) == 0:
        t0 = time.perf_counter()
        generate(cat, args.datasets, args.series_per_dataset, rng)
        print(f"generated {args.datasets} datasets / {args.datasets * args.series_per_dataset} series "
              f"in {time.perf_counter() - t0:.1f} s at {home}")
    n_series = cat.node.db.execute("SELECT COUNT(*) FROM series").fetchone()[0]

    import duckdb
    import pandas as pd

    parquet = home / "bench-parquet"
    parquet.mkdir(exist_ok=True)
    db = cat.node.db
    pd.read_sql_query("SELECT dataset_id, modality, manufacturer FROM series", db).to_parquet(parquet / "series.parquet")
    rows = []
    for r in db.execute("SELECT id, subjects_count, record FROM datasets"):
        import json

        rec = json.loads(r[2])
        rows.append({"id": r[0], "subjects_count": r[1], "condition": rec["conditions"][0]["id"],
                     "body_part": rec["body_parts"][0], "access_condition": rec["access_condition"],
                     "provider": rec["provider"]})
    pd.DataFrame(rows).to_parquet(parquet / "datasets.parquet")
    con = duckdb.connect()
    con.execute(f"CREATE VIEW series AS SELECT * FROM read_parquet('{parquet / 'series.parquet'}')")
    con.execute(f"CREATE VIEW datasets AS SELECT * FROM read_parquet('{parquet / 'datasets.parquet'}')")

    queries = [random_filters(rng) for _ in range(args.queries)]
    for f in queries[:10]:  # warm caches for both
        ours(cat, f)
        duckdb_anchor(con, f)
    t_ours, t_duck = [], []
    for f in queries:
        t0 = time.perf_counter()
        ours(cat, f)
        t_ours.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        duckdb_anchor(con, f)
        t_duck.append((time.perf_counter() - t0) * 1000)
    p95_ours, p95_duck = pct(t_ours, 95), pct(t_duck, 95)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"index: {len(cat)} datasets, {n_series} series; {len(queries)} random faceted queries (1-3 facets, "
          "some with min_subjects / free text); ours = first page of 50 + counts of every facet")
    print("| engine | p50 ms | p95 ms | max ms |")
    print("|---|---|---|---|")
    print(f"| eucaim-lab catalogue (facet bitmaps + SQLite FTS5) | {statistics.median(t_ours):.1f} | {p95_ours:.1f} | {max(t_ours):.1f} |")
    print(f"| DuckDB over Parquet (anchor, one facet only) | {statistics.median(t_duck):.1f} | {p95_duck:.1f} | {max(t_duck):.1f} |")
    print(f"p95 ratio anchor/ours: {p95_duck / p95_ours:.2f}x  (target: ours <= 50 ms)")


if __name__ == "__main__":
    main()
