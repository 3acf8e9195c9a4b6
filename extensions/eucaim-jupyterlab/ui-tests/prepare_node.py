"""Prepare the local node the UI tests run against: a generated catalogue of many metadata-only datasets
(the 10,000-dataset performance case) plus one small ingested dataset with real DICOM files for the
request -> approve -> check out -> sandboxed notebook flow.

    python prepare_node.py --home DIR [--datasets 10000]

The catalogue is built once into ``DIR.template`` (reused while this script is unchanged) and copied to
``DIR`` on every run, so each UI run starts from a node without requests or checkouts.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
FLOW_DATASET = "tutorial-lung-ct"
FLOW_HOLDER = "hospital-a"

_CONDITIONS = {
    "lung-cancer": ["lung", "chest"],
    "breast-cancer": ["breast"],
    "prostate-cancer": ["prostate", "pelvis"],
    "colon-cancer": ["colon", "abdomen"],
    "rectal-cancer": ["rectum", "pelvis"],
    "head-and-neck-cancer": ["head-neck"],
    "brain-tumour": ["brain", "head"],
    "liver-cancer": ["liver", "abdomen"],
    "soft-tissue-sarcoma": ["extremity"],
}
_MODALITIES = ["CT", "MR", "PT", "MG", "US"]
_MANUFACTURERS = ["Siemens", "GE", "Philips", "Toshiba", "Canon"]
_PROVIDERS = [("Hospital A", "hospital-a"), ("Hospital B", "hospital-b"), ("Clinic C", "clinic-c"),
              ("Institute D", "institute-d"), ("University E", "university-e")]
_ACCESS = ["IN_SITU_PROCESSING", "DOWNLOAD", "REMOTE_PROCESSING"]
_WORDS = ["radiomics", "screening", "follow-up", "treatment response", "survival", "staging", "segmentation",
          "multicentre", "retrospective", "prospective", "harmonisation", "outcome"]


def generated_records(n: int, seed: int = 7) -> list:
    from eucaim_lab.catalogue import DatasetRecord

    rng = random.Random(seed)
    out = []
    for i in range(n):
        condition = rng.choice(list(_CONDITIONS))
        body = rng.sample(_CONDITIONS[condition], k=1)
        mods = rng.sample(_MODALITIES, k=rng.choice([1, 1, 2]))
        provider, holder = rng.choice(_PROVIDERS)
        words = rng.sample(_WORDS, k=2)
        out.append(DatasetRecord.build(
            identifier=f"gen-{i:05d}",
            title=f"{condition.replace('-', ' ').capitalize()} {'/'.join(mods)} {words[0]} cohort {i}",
            description=f"Generated catalogue entry {i} for performance tests: {words[0]}, {words[1]}.",
            conditions=[condition], body_parts=body, modalities=mods,
            manufacturers=rng.sample(_MANUFACTURERS, k=rng.choice([1, 2])),
            subjects_count=rng.randint(5, 2000), studies_count=rng.randint(5, 4000),
            access_condition=rng.choice(_ACCESS), provider=provider, data_holder=holder,
            license=rng.choice(["CC-BY-4.0", "CC-BY-NC-4.0", "proprietary"]), keywords=words,
        ))
    return out


def build(home: Path, n: int) -> None:
    sys.path.insert(0, str(REPO / "tests"))
    from access.access_helpers import write_ct_series  # small real CT series, shared with the core's tests

    from eucaim_lab.catalogue import Catalogue

    cat = Catalogue(home)
    started = time.perf_counter()
    with cat.node.transaction():
        for record in generated_records(n):
            cat.add(record)
    src = home.parent / f"{home.name}-dicom"
    for k, patient in enumerate(("LUNG001", "LUNG002")):
        write_ct_series(src / patient, patient=patient, n_slices=3, seed=k)
    cat.ingest(
        src, dataset_id=FLOW_DATASET, title="Tutorial lung CT (UI test dataset)",
        description="Two patients, three CT slices each: the dataset the UI tests request, check out and open.",
        data_holder=FLOW_HOLDER, provider="Hospital A", access_condition="IN_SITU_PROCESSING",
        conditions=["lung-cancer"], body_parts=["lung"], license="CC-BY-4.0", keywords=["tutorial"],
    )
    shutil.rmtree(src)
    cat.node.close()
    print(f"built {n + 1} datasets in {time.perf_counter() - started:.1f} s at {home}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", required=True, type=Path)
    parser.add_argument("--datasets", type=int, default=10_000)
    args = parser.parse_args()
    home: Path = args.home.resolve()
    key = hashlib.sha256(Path(__file__).read_bytes() + str(args.datasets).encode()).hexdigest()[:16]
    template = home.with_name(home.name + ".template")
    if (template / ".key").read_text() != key if (template / ".key").exists() else True:
        shutil.rmtree(template, ignore_errors=True)
        build(template, args.datasets)
        (template / ".key").write_text(key)
    if home.exists():
        for path in home.rglob("*"):  # checkouts are read-only
            if path.is_dir() and not path.is_symlink():
                path.chmod(0o755)
        shutil.rmtree(home)
    shutil.copytree(template, home, symlinks=True)


if __name__ == "__main__":
    main()
