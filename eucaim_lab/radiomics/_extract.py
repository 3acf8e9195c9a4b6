"""``extract``: radiomics features of many cases on a Dask cluster, cached by content, as one tidy table.

Work unit: one Dask task per image (all ROIs drawn on one image are extracted after a single read; each case's
result is the same as if it ran alone). Tasks go largest first (by input bytes) so no worker idles at the end, each
returns plain records, and results stream back with ``as_completed``: every finished case is written to the cache at
once, so a killed run keeps its work. Infrastructure failures (a worker that died, a task the scheduler gave up on
after ``retries`` worker deaths) become error rows and are not cached.
"""

from __future__ import annotations

import logging
import math
import os
import time
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eucaim_lab._errors import InvalidInputError, NotFoundError
from eucaim_lab.radiomics._cache import ResultCache, cache_key
from eucaim_lab.radiomics._profiles import Settings, resolve_settings
from eucaim_lab.radiomics._progress import ProgressCallback, ProgressEvent, default_renderer
from eucaim_lab.radiomics._worker import THREAD_ENV, engine_versions, extract_group

if TYPE_CHECKING:
    import pandas as pd
    from distributed import Client

    from eucaim_lab.imaging import Case

__all__ = ["META_COLUMNS", "extract", "resolve_cases"]

logger = logging.getLogger(__name__)

META_COLUMNS = (
    "case_id", "patient_id", "modality", "roi", "status", "error", "qc_flags", "duration_s",
    "engine_versions", "settings_digest", "input_digest",
)


def resolve_cases(cases: Iterable[Case] | str | os.PathLike[str], home: str | os.PathLike[str] | None = None
                  ) -> list[Case]:
    """A list of cases from a list, or from a folder, a pyradiomics batch CSV, a checkout folder or checkout id."""
    if isinstance(cases, str | os.PathLike):
        path = Path(cases).expanduser()
        if not path.exists():
            from eucaim_lab._node import Node
            from eucaim_lab.catalogue._model import validate_identifier

            name = str(cases)
            if os.sep in name or "/" in name:
                raise NotFoundError(f"No cases at {name}: expected a folder, a batch CSV or a checkout id. Got a "
                                    "path that does not exist.")
            validate_identifier(name, "checkout id")
            path = Node(home).checkouts / name
            if not path.is_dir():
                raise NotFoundError(f"No folder, batch CSV or checkout named {name!r}; looked for {path}.")
        from eucaim_lab.imaging import discover_cases

        return discover_cases(path)  # a list of cases with a ``skipped`` attribute
    out = list(cases)
    for c in out:
        if not all(hasattr(c, a) for a in ("case_id", "image_key", "load_image", "load_mask", "input_digest")):
            raise InvalidInputError(f"extract() expects eucaim_lab.imaging.Case objects. Got {type(c).__name__}.")
    return out


def _input_bytes(case: Case) -> int:
    total = 0
    for p in (*getattr(case.image, "paths", ()), getattr(case.mask, "path", None)):
        if p:
            try:
                total += os.path.getsize(p)
            except OSError:
                pass
    return total


def _progress_callback(progress: bool | ProgressCallback | None) -> ProgressCallback:
    if progress is True:
        return default_renderer()
    if not progress:
        return lambda event: None
    if callable(progress):
        return progress
    raise InvalidInputError(f"progress must be True, False or a callable. Got {progress!r}.")


def _resolve_cache(cache: bool | str | os.PathLike[str] | None, home: str | os.PathLike[str] | None
                   ) -> ResultCache | None:
    if cache is True:
        from eucaim_lab._config import node_home

        workspace = os.environ.get("EUCAIM_WORKSPACE")
        if home is None and os.environ.get("EUCAIM_SANDBOXED") == "1" and workspace:
            # inside the sandbox the home folder is scratch that vanishes with the kernel: keep the cache with
            # the results, in the workspace
            return ResultCache(Path(workspace) / ".cache" / "radiomics")
        return ResultCache(node_home(home) / "cache" / "radiomics")
    if cache is False or cache is None:
        return None
    if isinstance(cache, str | os.PathLike):
        return ResultCache(cache)
    raise InvalidInputError(f"cache must be True, False or a folder path. Got {cache!r}.")


class _Cluster:
    """The client to use: the one given, one connected to an address, or a LocalCluster of our own (closed after)."""

    def __init__(self, client: Client | str | None, workers: int | None, retries: int) -> None:
        self.given, self.workers, self.retries = client, workers, retries
        self.client: Client | None = None
        self._own: list[Any] = []

    def __enter__(self) -> Client:
        import dask
        from distributed import Client, LocalCluster

        if self.given is None:
            n = self.workers or os.cpu_count() or 1
            config = {"distributed.scheduler.allowed-failures": self.retries,
                      "distributed.worker.multiprocessing-method": _start_method()}
            with dask.config.set(config):
                if config["distributed.worker.multiprocessing-method"] == "forkserver":
                    _start_forkserver()
                cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0",
                                       env=dict(THREAD_ENV), silence_logs=logging.ERROR)
            self.client = Client(cluster)
            self._own = [self.client, cluster]
        elif isinstance(self.given, str):
            self.client = Client(self.given)
            self._own = [self.client]
        else:
            self.client = self.given
        return self.client

    def __exit__(self, *exc: object) -> None:
        for obj in self._own:
            obj.close()


#: modules imported once in the fork server, so that each worker process starts with them loaded
_PRELOAD = (
    "distributed", "numpy", "pandas", "SimpleITK", "radiomics.featureextractor", "radiomics.imageoperations",
    "radiomics.firstorder", "radiomics.glcm", "radiomics.glrlm", "radiomics.glszm", "radiomics.gldm",
    "radiomics.ngtdm", "radiomics.shape", "radiomics.shape2D", "eucaim_lab.imaging", "eucaim_lab.radiomics._worker",
)


def _start_method() -> str:
    import multiprocessing

    return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


def _start_forkserver() -> None:
    """Start the fork server with the heavy modules imported and numeric libraries pinned to one thread.

    Workers are then forked from a single-threaded process that has already imported pyradiomics, SimpleITK and
    distributed, instead of each spawning a fresh interpreter and importing them again (seconds per worker).
    Nothing has run in the fork server (no ITK thread pool, no event loop), so forking it is safe.
    """
    import multiprocessing.forkserver

    from distributed.utils import get_mp_context

    get_mp_context().set_forkserver_preload(list(_PRELOAD))
    saved = {k: os.environ.get(k) for k in THREAD_ENV}
    os.environ.update(THREAD_ENV)
    try:
        multiprocessing.forkserver.ensure_running()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def extract(
    cases: Iterable[Case] | str | os.PathLike[str],
    params: str | os.PathLike[str] | dict[str, Any] | Settings = "default",
    client: Client | str | None = None,
    *,
    workers: int | None = None,
    cache: bool | str | os.PathLike[str] | None = True,
    progress: bool | ProgressCallback | None = True,
    retries: int = 2,
    home: str | os.PathLike[str] | None = None,
) -> pd.DataFrame:
    """Extract radiomics features of ``cases`` and return one row per case.

    ``cases``: Case objects, or a folder / pyradiomics batch CSV / checkout folder / checkout id (found with
    :func:`eucaim_lab.imaging.discover_cases`). ``params``: a profile name (``default``, ``ibsi-A`` ... ``ibsi-E``),
    a pyradiomics YAML file or a dict. ``client``: ``None`` starts a LocalCluster of ``workers`` processes (default:
    one per core) with one thread each; a ``distributed.Client`` or a scheduler address uses that cluster.
    ``cache``: ``True`` for ``<node>/cache/radiomics`` (in a sandboxed kernel: ``$EUCAIM_WORKSPACE/.cache/radiomics``),
    a folder, or ``False``. ``progress``: ``True`` draws a bar
    (notebook or stderr), or a callable receiving :class:`ProgressEvent`. ``retries``: how many worker deaths a task
    may cause before it is marked failed (own LocalCluster only; another cluster uses its scheduler's
    ``distributed.scheduler.allowed-failures``). Workers of another cluster need eucaim-lab and pyradiomics
    installed and read the input paths themselves (shared file system); start them with
    ``dask worker ADDR --nthreads 1 --preload eucaim_lab.radiomics._worker`` so the libraries load at start-up.

    Columns: ``case_id, patient_id, modality, roi, status ('ok'|'error'), error, qc_flags, duration_s,
    engine_versions, settings_digest, input_digest`` then the features named as pyradiomics names them.
    ``df.attrs``: ``computed``, ``from_cache``, ``failed`` (counts), ``settings`` (name, digest), ``diagnostics``
    (pyradiomics' ``diagnostics_*`` values per case_id), ``skipped`` (inputs discovery could not use, with the
    reason) and ``wall_s``.
    """
    t_start = time.perf_counter()
    if not isinstance(retries, int) or retries < 0:
        raise InvalidInputError(f"retries must be an integer >= 0. Got {retries!r}.")
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise InvalidInputError(f"workers must be an integer >= 1. Got {workers!r}.")
    case_list = resolve_cases(cases, home)
    ids = [c.case_id for c in case_list]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})
        raise InvalidInputError(f"case_id values must be unique. Got duplicates: {', '.join(dup[:10])}.")
    settings = resolve_settings(params)
    store = _resolve_cache(cache, home)
    notify = _progress_callback(progress)
    versions = engine_versions()
    total = len(case_list)
    records: dict[str, dict[str, Any]] = {}
    digests: dict[str, str | None] = {}
    keys: dict[str, str] = {}
    counts = {"computed": 0, "from_cache": 0}
    notify(ProgressEvent(0, total, None, "start", "none"))

    def finish(rec: dict[str, Any], source: str) -> None:
        records[rec["case_id"]] = rec
        notify(ProgressEvent(len(records), total, rec["case_id"], rec["status"], source))  # type: ignore[arg-type]

    todo: list[Case] = []
    for case in case_list:
        try:
            digest = case.input_digest()
        except Exception as exc:  # noqa: BLE001 - unreadable input: an error row, not a failed batch
            digests[case.case_id] = None
            rec = _error_record(case, settings, versions, " ".join(str(exc).split()))
            finish(rec, "none")
            continue
        digests[case.case_id] = digest
        keys[case.case_id] = cache_key(digest, case.label, settings.digest, versions)
        hit = store.get(keys[case.case_id]) if store is not None else None
        if hit is not None and hit.get("case_id") == case.case_id:
            counts["from_cache"] += 1
            finish(hit, "cache")
        elif hit is not None:  # same content under another id: reuse the result, keep this case's identity
            counts["from_cache"] += 1
            finish({**hit, **_identity(case)}, "cache")
        else:
            todo.append(case)

    if todo:
        with _Cluster(client, workers, retries) as dask_client:
            from distributed import as_completed

            n_workers = max(1, len(dask_client.scheduler_info().get("workers", {})))
            groups = _groups(todo, n_workers)

            futures = {}
            for rank, group in enumerate(groups):
                fut = dask_client.submit(extract_group, group, settings, priority=len(groups) - rank, pure=False,
                                         key=f"radiomics-{group[0].case_id}-{os.urandom(4).hex()}")
                futures[fut] = group
            for fut in as_completed(list(futures)):
                group = futures[fut]
                if fut.status == "finished":
                    group_records = fut.result()
                else:
                    message = _infra_message(fut.exception() if fut.status == "error" else None, retries)
                    group_records = [
                        {**_error_record(c, settings, versions, message), "cacheable": False} for c in group
                    ]
                for rec in group_records:
                    counts["computed"] += 1
                    cacheable = rec.pop("cacheable", True)
                    if store is not None and cacheable:
                        key = keys[rec["case_id"]]
                        if rec["engine_versions"] != versions:  # key by what really computed it
                            _warn_versions(rec["engine_versions"], versions)
                            key = cache_key(digests[rec["case_id"]] or "", rec["label"], settings.digest,
                                            rec["engine_versions"])
                        store.put(key, rec)
                    finish(rec, "computed")
                fut.release()

    df = _table([records[i] for i in ids], digests)
    df.attrs.update(
        computed=counts["computed"], from_cache=counts["from_cache"], failed=int((df["status"] == "error").sum()),
        settings={"name": settings.name, "digest": settings.digest},
        diagnostics={i: records[i].get("diagnostics", {}) for i in ids}, wall_s=time.perf_counter() - t_start,
        skipped=[{"path": str(x.path), "reason": str(x.reason)} for x in getattr(case_list, "skipped", [])],
    )
    return df


_WARNED_VERSIONS: set[str] = set()


def _warn_versions(worker: str, here: str) -> None:
    if worker not in _WARNED_VERSIONS:
        _WARNED_VERSIONS.add(worker)
        warnings.warn(
            f"Dask workers run {worker}, this process {here}. Results are cached under the workers' versions, so "
            "a re-run from this process computes them again; install the same versions on both sides.",
            stacklevel=3,
        )


def _identity(case: Case) -> dict[str, Any]:
    return {"case_id": case.case_id, "patient_id": case.patient_id, "modality": case.modality, "roi": case.roi}


def _error_record(case: Case, settings: Settings, versions: str, message: str) -> dict[str, Any]:
    return {**_identity(case), "label": case.label, "status": "error", "error": message[:500], "qc_flags": [],
            "duration_s": 0.0, "engine_versions": versions, "settings_digest": settings.digest, "features": {},
            "diagnostics": {}}


def _infra_message(exc: BaseException | None, retries: int) -> str:
    if exc is None:
        return "The task was cancelled before it finished (scheduler or connection lost); the case was not computed."
    name = type(exc).__name__
    detail = " ".join(str(exc).split())[:300]
    if name == "KilledWorker":
        return (f"The worker process died while computing this case, more times than allowed (retries={retries} "
                f"on our own cluster); the case was given up (KilledWorker: {detail}).")
    return f"The task failed outside the case code ({name}: {detail})."


def _groups(cases: Sequence[Case], n_workers: int = 1) -> list[list[Case]]:
    """Cases grouped by image (one read per image), largest input first.

    A group much larger than a fair share of the work (``len(cases) / (2 * n_workers)`` cases) is split so that
    one image with many ROIs does not keep a single worker busy while the others idle; each part reads the image
    once. Results per case do not depend on the grouping.
    """
    by_key: dict[str, list[Case]] = {}
    for c in cases:
        by_key.setdefault(c.image_key, []).append(c)
    share = max(1, math.ceil(len(cases) / (2 * n_workers)))
    groups = [g[i:i + share] for g in by_key.values() for i in range(0, len(g), share)]
    size = {key: sum(_input_bytes(c) for c in g[:1]) for key, g in by_key.items()}
    groups.sort(key=lambda g: (size[g[0].image_key], len(g)), reverse=True)
    return groups


def _table(records: Sequence[dict[str, Any]], digests: dict[str, str | None]) -> pd.DataFrame:
    import pandas as pd

    feature_names: dict[str, None] = {}
    for rec in records:
        for name in rec.get("features", {}):
            feature_names.setdefault(name, None)
    rows = []
    for rec in records:
        row = {c: rec.get(c) for c in META_COLUMNS}
        row["input_digest"] = digests.get(rec["case_id"])
        row["qc_flags"] = list(rec.get("qc_flags") or [])
        row["duration_s"] = float(rec.get("duration_s") or 0.0)
        feats = rec.get("features", {})
        row.update({name: feats.get(name) for name in feature_names})
        rows.append(row)
    df = pd.DataFrame(rows, columns=[*META_COLUMNS, *feature_names])
    for name in feature_names:  # pyradiomics' general info (strings) stays object, numbers become float
        converted = pd.to_numeric(df[name], errors="coerce")
        if converted.notna().sum() == df[name].notna().sum():
            df[name] = converted.astype(float)
    return df

