"""Faceted search over the catalogue: filters in, SQL out.

Filters combine as EUCAIM's federated search does: AND across facets, OR among the values of one facet.
Each facet value is checked against its vocabulary (or, for open facets such as manufacturer and provider,
against the values present in the catalogue) so a typo fails loudly with the list of known values.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .._errors import InvalidInputError
from ._vocab import AccessCondition, AccessRights, BodyPart, Condition, Modality, Sex, Tier, parse

__all__ = ["FACETS", "Query", "build_query", "facet_counts", "matching_ids"]

#: facet name -> closed vocabulary (None: open, values are those present in the catalogue)
FACETS: dict[str, type[Any] | None] = {
    "condition": Condition,
    "body_part": BodyPart,
    "modality": Modality,
    "manufacturer": None,
    "access_condition": AccessCondition,
    "access_rights": AccessRights,
    "sex": Sex,
    "provider": None,
    "license": None,
    "tier": Tier,
    "subjects_magnitude": None,
}


@dataclass(frozen=True)
class Query:
    """A validated search: facet -> accepted values, plus numeric bounds and free text."""

    facets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    min_subjects: int | None = None
    max_subjects: int | None = None
    text: str | None = None


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        return [value]
    return list(value)


def build_query(conn: sqlite3.Connection, filters: Mapping[str, Any]) -> Query:
    """Validate user filters (facet names, values, bounds) into a :class:`Query`."""
    facets: dict[str, tuple[str, ...]] = {}
    min_subjects = max_subjects = None
    text = None
    for name, raw in filters.items():
        if raw is None or raw == [] or raw == ():
            continue
        key = name.replace("-", "_")
        if key == "min_subjects":
            min_subjects = _non_negative_int(raw, "min_subjects")
        elif key == "max_subjects":
            max_subjects = _non_negative_int(raw, "max_subjects")
        elif key == "text":
            text = str(raw).strip() or None
        elif key in FACETS:
            facets[key] = tuple(_facet_value(conn, key, v) for v in _as_list(raw))
        else:
            known = ", ".join([*FACETS, "min_subjects", "max_subjects", "text"])
            raise InvalidInputError(f"Unknown search filter {name!r}. Known filters: {known}.", filter=name)
    return Query(facets=facets, min_subjects=min_subjects, max_subjects=max_subjects, text=text)


def _non_negative_int(raw: Any, what: str) -> int:
    try:
        value = int(raw)
    except (TypeError, ValueError):
        value = -1
    if value < 0:
        raise InvalidInputError(f"{what} must be a whole number >= 0. Got {raw!r}.", field=what)
    return value


def _facet_value(conn: sqlite3.Connection, facet: str, raw: Any) -> str:
    vocab = FACETS[facet]
    if vocab is Tier:
        return str(int(parse(Tier, _tier(raw), what="tier")))
    if vocab is not None:
        return str(parse(vocab, raw, what=facet).value)
    known = [r[0] for r in conn.execute("SELECT DISTINCT value FROM dataset_facets WHERE facet = ?", (facet,))]
    for value in known:
        if value.lower() == str(raw).strip().lower():
            return value
    listed = ", ".join(sorted(known)) or "(none in this catalogue)"
    raise InvalidInputError(
        f"Unknown {facet.replace('_', ' ')} {str(raw)!r}. Known values: {listed}.", field=facet, value=str(raw)
    )


def _tier(raw: Any) -> Any:
    text = str(raw).strip().lower().removeprefix("tier").strip()
    return int(text) if text.isdigit() else raw


def _where(query: Query, skip_facet: str | None = None) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for facet, values in query.facets.items():
        if facet == skip_facet:
            continue
        marks = ",".join("?" * len(values))
        clauses.append(
            f"d.id IN (SELECT dataset_id FROM dataset_facets WHERE facet = ? AND value IN ({marks}))"
        )
        params += [facet, *values]
    if query.min_subjects is not None:
        clauses.append("d.subjects_count >= ?")
        params.append(query.min_subjects)
    if query.max_subjects is not None:
        clauses.append("d.subjects_count <= ?")
        params.append(query.max_subjects)
    if query.text:
        clauses.append("d.id IN (SELECT dataset_id FROM dataset_text WHERE dataset_text MATCH ?)")
        params.append(_fts_query(query.text))
    return (" AND ".join(clauses) or "1"), params


def _fts_query(text: str) -> str:
    """Every word must match as a prefix; quotes keep FTS5 syntax out of user text."""
    words = re.findall(r"\w+", text, flags=re.UNICODE)
    if not words:
        return '""'
    return " AND ".join(f'"{w}"*' for w in words)


def matching_ids(conn: sqlite3.Connection, query: Query, *, limit: int | None = None, offset: int = 0) -> list[str]:
    where, params = _where(query)
    sql = f"SELECT d.id FROM datasets d WHERE {where} ORDER BY d.title COLLATE NOCASE, d.id"
    if limit is not None:
        sql += " LIMIT ? OFFSET ?"
        params += [limit, offset]
    return [r[0] for r in conn.execute(sql, params)]


def count(conn: sqlite3.Connection, query: Query) -> int:
    where, params = _where(query)
    return int(conn.execute(f"SELECT COUNT(*) FROM datasets d WHERE {where}", params).fetchone()[0])


def facet_counts(conn: sqlite3.Connection, query: Query) -> dict[str, dict[str, int]]:
    """Datasets per facet value among the matches.

    A facet's own selection is left out when counting that facet (as catalogue UIs do), so the counts show
    what choosing another value of the same facet would give.
    """
    out: dict[str, dict[str, int]] = {name: {} for name in FACETS}
    selected = set(query.facets)
    # one pass for all facets that have no selection of their own
    where, params = _where(query)
    rows = conn.execute(
        f"SELECT f.facet, f.value, COUNT(*) FROM dataset_facets f JOIN datasets d ON d.id = f.dataset_id "
        f"WHERE {where} GROUP BY f.facet, f.value",
        params,
    )
    for facet, value, n in rows:
        if facet not in selected and facet in out:
            out[facet][value] = n
    for facet in selected:
        where, params = _where(query, skip_facet=facet)
        rows = conn.execute(
            f"SELECT f.value, COUNT(*) FROM dataset_facets f JOIN datasets d ON d.id = f.dataset_id "
            f"WHERE f.facet = ? AND {where} GROUP BY f.value",
            [facet, *params],
        )
        out[facet] = {value: n for value, n in rows}
    return {k: dict(sorted(v.items(), key=lambda kv: (-kv[1], kv[0]))) for k, v in out.items()}
