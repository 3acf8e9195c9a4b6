"""Index the DICOM headers of a folder: one :class:`InstanceHeader` per readable file, a reason per bad one.

Only headers are read, never pixel data. Most files (little-endian, with a File Meta header) go through a
small scanner that walks the data elements of the first bytes of the file and decodes only the attributes the
catalogue needs (:mod:`._indexer_scan`); the others (big-endian, deflated, no File Meta header, ISO 2022
character sets, damaged files) are read by pydicom with ``stop_before_pixels=True`` and ``specific_tags``
(:mod:`._indexer_read`). Both paths end in the same checks: the three UIDs must be present, and a file whose
Pixel Data is cut short is refused with a reason instead of being indexed.

Many files are read by a pool of processes; the output order is the sorted order of the paths either way.
"""

from __future__ import annotations

import os
import stat
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from .._errors import InvalidInputError, NotFoundError
from ._indexer_read import (
    InstanceHeader,
    SkippedFile,
    _one_line,
    _Parsed,
    _read_chunk,
    _read_file,
    _unique,
    parse_age,
)

__all__ = [
    "IndexResult",
    "InstanceHeader",
    "SeriesInfo",
    "SkippedFile",
    "group_series",
    "index_folder",
    "parse_age",
]

#: below this many files the work is done in the calling process
PARALLEL_THRESHOLD = 200


@dataclass
class IndexResult:
    """Everything :func:`index_folder` found: indexed instances and skipped files, each sorted by path."""

    instances: list[InstanceHeader]
    skipped: list[SkippedFile]


@dataclass
class SeriesInfo:
    """One series (all instances sharing a SeriesInstanceUID), as built by :func:`group_series`."""

    series_uid: str
    study_uid: str
    patient_id: str | None
    modality: str | None
    kind: str
    body_part_examined: str | None
    manufacturer: str | None
    series_description: str | None
    files: list[InstanceHeader]
    referenced_series_uids: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    size: int = 0
    frame_of_reference_uid: str | None = None
    algorithm_type: str | None = None


# ------------------------------------------------------------------------------------------------- the folder
def _looks_like_dicom(path: str) -> bool:
    try:
        with open(path, "rb") as fp:
            head = fp.read(132)
    except OSError:
        return False
    return head[128:132] == b"DICM"


def _walk(root: str) -> tuple[list[str], list[SkippedFile]]:
    """Every regular file under ``root`` (following symbolic links, once per real folder), sorted."""
    files: list[str] = []
    skipped: list[SkippedFile] = []
    seen: set[str] = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        real = os.path.realpath(folder)
        if real in seen:
            continue
        seen.add(real)
        try:
            entries = list(os.scandir(folder))
        except OSError as exc:
            skipped.append(SkippedFile(folder, _one_line(f"cannot list the folder: {exc.strerror or exc}")))
            continue
        for entry in entries:
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if entry.name.startswith("."):
                # .git, .ipynb_checkpoints, .DS_Store ...: never data; say so only for a hidden DICOM file
                if not is_dir and _looks_like_dicom(entry.path):
                    skipped.append(SkippedFile(entry.path, "hidden file (name starts with '.'), not indexed"))
                continue
            if is_dir:
                stack.append(entry.path)
                continue
            try:
                mode = entry.stat().st_mode
            except OSError as exc:
                reason = (
                    "broken symbolic link" if entry.is_symlink() else f"cannot stat: {exc.strerror or exc}"
                )
                skipped.append(SkippedFile(entry.path, reason))
                continue
            if stat.S_ISREG(mode):
                files.append(entry.path)
            # sockets, FIFOs and devices are not files to read
    files.sort()
    return files, skipped


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _read_many(
    paths: list[str], workers: int | None, progress: Callable[[int, int], None] | None
) -> list[_Parsed | SkippedFile]:
    total = len(paths)
    n_workers = _cpu_count() if workers is None else workers
    if n_workers > 1 and total > PARALLEL_THRESHOLD:
        try:
            return _read_parallel(paths, n_workers, progress)
        except (OSError, ImportError) as exc:  # e.g. no POSIX semaphores inside a sandbox
            warnings.warn(
                f"Indexing in one process: a process pool is not available here ({exc}).", stacklevel=3
            )
    out: list[_Parsed | SkippedFile] = []
    every = max(1, total // 200)
    for i, p in enumerate(paths, 1):
        out.append(_read_file(p))
        if progress is not None and (i % every == 0 or i == total):
            progress(i, total)
    return out


def _start_method() -> str | None:
    """How to start the worker processes.

    fork is cheap and needs nothing from the main module, but is unsafe while other threads run. With threads
    alive and no main file to re-import (a Jupyter kernel, ``python -c``), a fork server is safe. A script
    with threads keeps fork (Python's own default up to 3.13): a fork server would re-run a script that has no
    ``if __name__ == "__main__":`` guard. Without fork (macOS, Windows) the platform default is used.
    """
    import multiprocessing
    import sys
    import threading

    methods = multiprocessing.get_all_start_methods()
    if "fork" not in methods:
        return None
    if threading.active_count() > 1 and "forkserver" in methods:
        main = sys.modules.get("__main__")
        if main is None or not getattr(main, "__file__", None):
            return "forkserver"
    return "fork"


def _read_parallel(
    paths: list[str], n_workers: int, progress: Callable[[int, int], None] | None
) -> list[_Parsed | SkippedFile]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    total = len(paths)
    size = max(16, min(512, total // (n_workers * 8)))
    chunks = [paths[i : i + size] for i in range(0, total, size)]
    context = multiprocessing.get_context(_start_method())
    results: list[list[_Parsed | SkippedFile]] = [[] for _ in chunks]
    done = 0
    with ProcessPoolExecutor(max_workers=min(n_workers, len(chunks)), mp_context=context) as pool:
        futures = {pool.submit(_read_chunk, chunk): i for i, chunk in enumerate(chunks)}
        for future in as_completed(futures):
            i = futures[future]
            results[i] = future.result()
            done += len(chunks[i])
            if progress is not None:
                progress(done, total)
    return [r for chunk in results for r in chunk]


def index_folder(
    path: str | os.PathLike[str],
    *,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> IndexResult:
    """Read the DICOM header of every file under ``path`` (a folder, at any depth, or one file).

    Files of any name are tried; a file that is not a usable DICOM instance is reported in ``skipped`` with a
    one-line reason (DICOMDIR, not DICOM, truncated, missing UIDs ...) and never stops the run. Folders and
    files whose name starts with '.' are ignored (a hidden DICOM file is reported as skipped).
    ``workers``: processes to use (default: the CPUs available; 1 = in this process); small folders are always
    read in this process. ``progress(done, total)`` is called from this process as files are read.
    """
    p = Path(path)
    if not os.path.lexists(p):
        raise NotFoundError(f"Cannot index {str(p)!r}: no such file or folder.", path=str(p))
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise InvalidInputError(f"'workers' must be a whole number >= 1 or None. Got {workers!r}.")
    root = os.path.abspath(p)
    if p.is_dir():
        files, skipped = _walk(root)
    elif p.is_file():
        files, skipped = [root], []
    elif p.is_symlink():
        raise NotFoundError(f"Cannot index {str(p)!r}: it is a broken symbolic link.", path=str(p))
    else:
        raise InvalidInputError(f"Cannot index {str(p)!r}: expected a folder or a file, got a special file.")
    results = _read_many(files, workers, progress)
    parsed = [r for r in results if isinstance(r, _Parsed)]
    skipped += [r for r in results if isinstance(r, SkippedFile)]
    sop_to_series: dict[str, str] = {}
    for r in parsed:
        sop_to_series.setdefault(r.header.sop_instance_uid, r.header.series_uid)
    instances = []
    for r in parsed:
        header = r.header
        if r.referenced_sop_uids:
            found = _unique(sop_to_series.get(uid) for uid in r.referenced_sop_uids)
            header = replace(header, referenced_series_uids=_unique([*header.referenced_series_uids, *found]))
        instances.append(header)
    instances.sort(key=lambda h: h.path)
    skipped.sort(key=lambda s: s.path)
    return IndexResult(instances=instances, skipped=skipped)


# ----------------------------------------------------------------------------------------------------- series
def _first(values: Iterable[str | None]) -> str | None:
    return next((v for v in values if v), None)


def group_series(instances: Iterable[InstanceHeader]) -> list[SeriesInfo]:
    """One :class:`SeriesInfo` per SeriesInstanceUID, files sorted by instance number then path.

    Series values come from the first file that has them; references and labels are the union over the files.
    Series are returned in the order of their first file's path.
    """
    by_series: dict[str, list[InstanceHeader]] = {}
    for inst in instances:
        by_series.setdefault(inst.series_uid, []).append(inst)
    out = []
    for uid, files in by_series.items():
        files.sort(key=lambda h: (h.instance_number is None, h.instance_number or 0, h.path))
        studies = sorted({f.study_uid for f in files})
        if len(studies) > 1:
            warnings.warn(
                f"Series {uid} has files in {len(studies)} studies ({', '.join(studies)}); "
                "the first is used.",
                stacklevel=2,
            )
        kinds = [f.kind for f in files]
        out.append(
            SeriesInfo(
                series_uid=uid,
                study_uid=files[0].study_uid,
                patient_id=_first(f.patient_id for f in files),
                modality=_first(f.modality for f in files),
                kind=max(set(kinds), key=lambda k: (kinds.count(k), k)),
                body_part_examined=_first(f.body_part_examined for f in files),
                manufacturer=_first(f.manufacturer for f in files),
                series_description=_first(f.series_description for f in files),
                files=files,
                referenced_series_uids=_unique(u for f in files for u in f.referenced_series_uids),
                labels=_unique(label for f in files for label in f.labels),
                size=sum(f.size for f in files),
                frame_of_reference_uid=_first(f.frame_of_reference_uid for f in files),
                algorithm_type=_first(f.algorithm_type for f in files),
            )
        )
    out.sort(key=lambda s: min(f.path for f in s.files))
    return out
