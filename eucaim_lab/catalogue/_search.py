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

__all__ = ["FACETS", "FacetIndex", "Query", "build_query", "facet_counts", "facet_index", "matching_ids"]

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


def build_query(conn: sqlite3.Connection, index: FacetIndex, filters: Mapping[str, Any]) -> Query:
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
            facets[key] = tuple(_facet_value(index, key, v) for v in _as_list(raw))
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


def _facet_value(index: FacetIndex, facet: str, raw: Any) -> str:
    vocab = FACETS[facet]
    if vocab is Tier:
        return str(int(parse(Tier, _tier(raw), what="tier")))
    if vocab is not None:
        return str(parse(vocab, raw, what=facet).value)
    known = list(index.bitmaps.get(facet, {}))
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


def _fts_query(text: str) -> str:
    """Every word must match as a prefix; quotes keep FTS5 syntax out of user text."""
    words = re.findall(r"\w+", text, flags=re.UNICODE)
    if not words:
        return '""'
    return " AND ".join(f'"{w}"*' for w in words)


class FacetIndex:
    """In-memory bitmaps of every (facet, value) over all datasets, ordered by title.

    Built from ``dataset_facets`` in one pass and kept while the catalogue's generation counter is unchanged, so a
    faceted query costs a few vectorised boolean operations instead of one SQL pass per facet.
    """

    def __init__(self, conn: sqlite3.Connection, generation: str) -> None:
        import numpy as np

        self.generation = generation
        rows = conn.execute(
            "SELECT id, subjects_count FROM datasets ORDER BY title COLLATE NOCASE, id"
        ).fetchall()
        self.ids = [r[0] for r in rows]
        self.position = {ident: i for i, ident in enumerate(self.ids)}
        self.subjects = np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows))
        n = len(rows)
        members: dict[tuple[str, str], list[int]] = {}
        for facet, value, ident in conn.execute("SELECT facet, value, dataset_id FROM dataset_facets"):
            members.setdefault((facet, value), []).append(self.position[ident])
        self.bitmaps: dict[str, dict[str, Any]] = {}
        for (facet, value), positions in members.items():
            bits = np.zeros(n, dtype=bool)
            bits[positions] = True
            self.bitmaps.setdefault(facet, {})[value] = bits

    def mask(self, conn: sqlite3.Connection, query: Query, skip_facet: str | None = None) -> Any:
        import numpy as np

        mask = np.ones(len(self.ids), dtype=bool)
        for facet, values in query.facets.items():
            if facet == skip_facet:
                continue
            union = np.zeros(len(self.ids), dtype=bool)
            for value in values:
                bits = self.bitmaps.get(facet, {}).get(value)
                if bits is not None:
                    union |= bits
            mask &= union
        if query.min_subjects is not None:
            mask &= self.subjects >= query.min_subjects
        if query.max_subjects is not None:
            mask &= self.subjects <= query.max_subjects
        if query.text:
            hits = np.zeros(len(self.ids), dtype=bool)
            found = conn.execute(
                "SELECT dataset_id FROM dataset_text WHERE dataset_text MATCH ?", (_fts_query(query.text),)
            )
            hits[[self.position[r[0]] for r in found if r[0] in self.position]] = True
            mask &= hits
        return mask


def facet_index(conn: sqlite3.Connection, cached: FacetIndex | None) -> FacetIndex:
    """The current :class:`FacetIndex`: ``cached`` if the catalogue has not changed since it was built."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'catalogue_generation'").fetchone()
    generation = row[0] if row else "0"
    if cached is not None and cached.generation == generation:
        return cached
    return FacetIndex(conn, generation)


def matching_ids(
    conn: sqlite3.Connection, index: FacetIndex, query: Query, *, limit: int | None = None, offset: int = 0
) -> list[str]:
    import numpy as np

    positions = np.flatnonzero(index.mask(conn, query))
    if limit is not None:
        positions = positions[offset : offset + limit]
    elif offset:
        positions = positions[offset:]
    return [index.ids[i] for i in positions]


def count(conn: sqlite3.Connection, index: FacetIndex, query: Query) -> int:
    return int(index.mask(conn, query).sum())


def facet_counts(conn: sqlite3.Connection, index: FacetIndex, query: Query) -> dict[str, dict[str, int]]:
    """Datasets per facet value among the matches.

    A facet's own selection is left out when counting that facet (as catalogue UIs do), so the counts show
    what choosing another value of the same facet would give.
    """
    base = index.mask(conn, query)
    out: dict[str, dict[str, int]] = {}
    for facet in FACETS:
        mask = index.mask(conn, query, skip_facet=facet) if facet in query.facets else base
        counts = {value: int((bits & mask).sum()) for value, bits in index.bitmaps.get(facet, {}).items()}
        out[facet] = dict(sorted(((v, n) for v, n in counts.items() if n), key=lambda kv: (-kv[1], kv[0])))
    return out
