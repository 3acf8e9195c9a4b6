"""The catalogue of the local node: add, look up, search and facet datasets; read an ingested dataset's index."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._errors import ConflictError, NotFoundError
from .._node import Node
from . import _search
from ._model import DatasetRecord, validate_identifier

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["SEARCH_COLUMNS", "Catalogue"]

#: columns of :meth:`Catalogue.search`'s DataFrame, in order
SEARCH_COLUMNS = (
    "identifier", "title", "version", "conditions", "body_parts", "modalities", "manufacturers", "subjects_count",
    "studies_count", "series_count", "segmentations_count", "access_condition", "access_rights", "provider",
    "data_holder", "license", "tier",
)
_SERIES_COLUMNS = (
    "series_uid", "study_uid", "patient_id", "modality", "kind", "body_part", "manufacturer", "series_description",
    "files_count", "size_bytes", "referenced_series_uids", "labels", "folder",
)


def _magnitude(n: int) -> str:
    """EUCAIM's 'order of magnitude' facet for the number of subjects."""
    if n < 10:
        return "1-9" if n else "0"
    if n < 100:
        return "10-99"
    if n < 1000:
        return "100-999"
    return "1000+"


def facet_rows(record: DatasetRecord) -> list[tuple[str, str]]:
    """The (facet, value) pairs under which ``record`` is found."""
    rows: list[tuple[str, str]] = []
    rows += [("condition", c.value) for c in record.conditions]
    rows += [("body_part", b.value) for b in record.body_parts]
    rows += [("modality", m.value) for m in record.modalities]
    rows += [("manufacturer", m) for m in record.manufacturers]
    rows += [("sex", s.value) for s, n in record.sex.items() if n > 0]
    rows += [
        ("access_condition", record.access_condition.value),
        ("access_rights", record.access_rights.value),
        ("provider", record.provider),
        ("license", record.license),
        ("tier", str(int(record.tier))),
        ("subjects_magnitude", _magnitude(record.subjects_count)),
    ]
    return list(dict.fromkeys(rows))


def _text(record: DatasetRecord) -> str:
    parts = [record.identifier, record.title, record.description, *record.keywords, *record.annotations.labels]
    parts += [f"{c.label} {c.code}" for c in record.conditions]
    parts += [b.value.replace("-", " ") for b in record.body_parts]
    parts += [m.label for m in record.modalities]
    parts += [record.provider, *record.manufacturers]
    return " ".join(parts)


class Catalogue:
    """Datasets known to the local node.

    >>> cat = Catalogue()                       # doctest: +SKIP
    >>> cat.search(modality="CT")               # doctest: +SKIP
    """

    def __init__(self, home: str | os.PathLike[str] | None = None, *, node: Node | None = None) -> None:
        self.node = node if node is not None else Node(home)
        self._facet_index: _search.FacetIndex | None = None

    def _index(self) -> _search.FacetIndex:
        self._facet_index = _search.facet_index(self.node.db, self._facet_index)
        return self._facet_index

    def __repr__(self) -> str:
        return f"Catalogue({str(self.node.home)!r})"

    def __len__(self) -> int:
        return int(self.node.db.execute("SELECT COUNT(*) FROM datasets").fetchone()[0])

    def __contains__(self, dataset_id: object) -> bool:
        return isinstance(dataset_id, str) and self._row(dataset_id) is not None

    # ----- writing -------------------------------------------------------------------------------------------
    def add(
        self,
        record: DatasetRecord,
        *,
        root: str | os.PathLike[str] | None = None,
        series: Iterable[Mapping[str, Any]] = (),
        files: Iterable[Sequence[Any]] = (),
        subjects: Iterable[tuple[str, Mapping[str, Any]]] = (),
    ) -> None:
        """Register ``record`` (and, for an ingested dataset, its series, files and subjects) in one transaction.

        ``files`` rows are ``(relpath, series_uid, sop_uid, size, sha3)``; ``root`` is the dataset's folder in the
        datalake (stored relative to the node home when inside it).
        """
        root_text = None
        if root is not None:
            root_path = Path(root).resolve()
            try:
                root_text = str(root_path.relative_to(self.node.home))
            except ValueError:
                root_text = str(root_path)
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        with self.node.transaction() as db:
            if db.execute("SELECT 1 FROM datasets WHERE id = ?", (record.identifier,)).fetchone():
                raise ConflictError(
                    f"A dataset with id {record.identifier!r} already exists in the catalogue; choose another id.",
                    dataset_id=record.identifier,
                )
            db.execute(
                "INSERT INTO datasets(id, version, record, title, subjects_count, studies_count, series_count, "
                "access_condition, data_holder, root, created) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    record.identifier, record.version, json.dumps(record.to_json_dict()), record.title,
                    record.subjects_count, record.studies_count, record.series_count,
                    record.access_condition.value, record.data_holder, root_text, now,
                ),
            )
            db.executemany(
                "INSERT INTO dataset_facets(facet, value, dataset_id) VALUES (?,?,?)",
                [(f, v, record.identifier) for f, v in facet_rows(record)],
            )
            db.execute("INSERT INTO dataset_text(dataset_id, text) VALUES (?, ?)", (record.identifier, _text(record)))
            db.executemany(
                "INSERT INTO series(dataset_id, series_uid, study_uid, patient_id, modality, kind, body_part, "
                "manufacturer, series_description, files_count, size_bytes, referenced_series_uids, labels, folder, "
                "tags) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    (
                        record.identifier, s["series_uid"], s["study_uid"], s.get("patient_id"), s.get("modality"),
                        s["kind"], s.get("body_part"), s.get("manufacturer"), s.get("series_description"),
                        int(s["files_count"]), int(s.get("size_bytes", 0)),
                        json.dumps(list(s.get("referenced_series_uids", ()))), json.dumps(list(s.get("labels", ()))),
                        s["folder"], json.dumps(dict(s.get("tags", {})), default=str),
                    )
                    for s in series
                ),
            )
            db.executemany(
                "INSERT INTO files(dataset_id, relpath, series_uid, sop_uid, size, sha3) VALUES (?,?,?,?,?,?)",
                ((record.identifier, *f) for f in files),
            )
            db.executemany(
                "INSERT INTO subjects(dataset_id, subject_id, eform) VALUES (?,?,?)",
                ((record.identifier, sid, json.dumps(dict(eform), default=str)) for sid, eform in subjects),
            )
            db.execute(
                "INSERT INTO meta(key, value) VALUES('catalogue_generation', '1') ON CONFLICT(key) "
                "DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)"
            )

    # ----- reading -------------------------------------------------------------------------------------------
    def _row(self, dataset_id: str) -> Any:
        return self.node.db.execute("SELECT * FROM datasets WHERE id = ?", (dataset_id,)).fetchone()

    def _require(self, dataset_id: str) -> Any:
        validate_identifier(dataset_id)
        row = self._row(dataset_id)
        if row is None:
            raise NotFoundError(
                f"No dataset {dataset_id!r} in the catalogue at {self.node.home}. "
                "List datasets with: eucaim-lab catalogue search",
                dataset_id=dataset_id,
            )
        return row

    def get(self, dataset_id: str) -> DatasetRecord:
        """The dataset's record; :class:`NotFoundError` if there is none."""
        return DatasetRecord.from_json_dict(json.loads(self._require(dataset_id)["record"]))

    def ids(self) -> list[str]:
        return [r[0] for r in self.node.db.execute("SELECT id FROM datasets ORDER BY id")]

    def dataset_root(self, dataset_id: str) -> Path:
        """Folder of the dataset's files in the datalake; :class:`NotFoundError` for a metadata-only dataset."""
        row = self._require(dataset_id)
        if row["root"] is None:
            raise NotFoundError(
                f"Dataset {dataset_id!r} is listed in the catalogue (tier {json.loads(row['record'])['tier']}) but "
                "has no files on this node.",
                dataset_id=dataset_id,
            )
        return (self.node.home / str(row["root"])).resolve()

    def files(self, dataset_id: str) -> pd.DataFrame:
        import pandas as pd

        self._require(dataset_id)
        rows = self.node.db.execute(
            "SELECT relpath, series_uid, sop_uid, size, sha3 FROM files WHERE dataset_id = ? ORDER BY relpath",
            (dataset_id,),
        ).fetchall()
        return pd.DataFrame([tuple(r) for r in rows], columns=["relpath", "series_uid", "sop_uid", "size", "sha3"])

    def series(self, dataset_id: str) -> pd.DataFrame:
        import pandas as pd

        self._require(dataset_id)
        rows = self.node.db.execute(
            f"SELECT {', '.join(_SERIES_COLUMNS)} FROM series WHERE dataset_id = ? ORDER BY patient_id, folder",
            (dataset_id,),
        ).fetchall()
        df = pd.DataFrame([tuple(r) for r in rows], columns=list(_SERIES_COLUMNS))
        for col in ("referenced_series_uids", "labels"):
            df[col] = [json.loads(v) for v in df[col]]
        return df

    def index_json(self, dataset_id: str) -> list[dict[str, Any]]:
        """The dataset's ``index.json`` (CHAIMELEON layout): studies with their series folders and tags."""
        self._require(dataset_id)
        rows = self.node.db.execute(
            "SELECT series_uid, study_uid, patient_id, folder, tags FROM series WHERE dataset_id = ? "
            "ORDER BY folder",
            (dataset_id,),
        ).fetchall()
        studies: dict[str, dict[str, Any]] = {}
        for r in rows:
            study_path, _, folder_name = r["folder"].rpartition("/")
            tags = json.loads(r["tags"])
            study = studies.setdefault(
                study_path,
                {
                    "studyId": r["study_uid"],
                    "studyName": tags.get("StudyDescription") or tags.get("StudyDate") or r["study_uid"],
                    "subjectName": study_path.split("/", 1)[0],
                    "path": study_path,
                    "series": [],
                    "url": "",
                },
            )
            study["series"].append({"folderName": folder_name, "tags": tags})
        return list(studies.values())

    def eforms(self, dataset_id: str) -> list[dict[str, Any]]:
        """Clinical data per subject (``eforms.json``)."""
        self._require(dataset_id)
        rows = self.node.db.execute(
            "SELECT subject_id, eform FROM subjects WHERE dataset_id = ? ORDER BY subject_id", (dataset_id,)
        ).fetchall()
        return [{"subjectName": r["subject_id"], "eForm": json.loads(r["eform"])} for r in rows]

    # ----- search --------------------------------------------------------------------------------------------
    def search(self, *, limit: int | None = None, offset: int = 0, **filters: Any) -> pd.DataFrame:
        """Datasets matching ``filters`` (condition, body_part, modality, manufacturer, access_condition,
        access_rights, sex, provider, license, tier, min_subjects, max_subjects, text), one row each.

        Values of one facet may be a list (OR); different facets combine with AND.
        """
        import pandas as pd

        db = self.node.db
        index = self._index()
        query = _search.build_query(db, index, filters)
        ids = _search.matching_ids(db, index, query, limit=limit, offset=offset)
        rows = []
        for chunk_start in range(0, len(ids), 500):
            chunk = ids[chunk_start : chunk_start + 500]
            marks = ",".join("?" * len(chunk))
            found = {
                r[0]: json.loads(r[1])
                for r in db.execute(f"SELECT id, record FROM datasets WHERE id IN ({marks})", chunk)
            }
            rows += [_summary(found[i]) for i in chunk]
        return pd.DataFrame(rows, columns=list(SEARCH_COLUMNS))

    def count(self, **filters: Any) -> int:
        db = self.node.db
        index = self._index()
        return _search.count(db, index, _search.build_query(db, index, filters))

    def facets(self, **filters: Any) -> dict[str, dict[str, int]]:
        """Number of matching datasets per value of every facet."""
        db = self.node.db
        index = self._index()
        return _search.facet_counts(db, index, _search.build_query(db, index, filters))

    # ----- ingest --------------------------------------------------------------------------------------------
    def ingest(self, path: str | os.PathLike[str], **options: Any) -> dict[str, Any]:
        """Index a folder of DICOM files into the node as a new dataset; see :func:`ingest`."""
        from ._ingest import ingest

        return ingest(self, path, **options)


def _summary(data: dict[str, Any]) -> dict[str, Any]:
    row = {k: data.get(k) for k in SEARCH_COLUMNS}
    row["conditions"] = [c["id"] for c in data.get("conditions", [])]
    return row
