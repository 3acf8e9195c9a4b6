"""DICOM SEG segment -> binary mask on an image grid, with highdicom.

Frames are matched to the image slices by the SOP Instance UIDs they were derived from where the image was stacked by
our DICOM reader; otherwise (no source references, or multi-frame images) the SEG is read as a highdicom volume and
resampled with nearest-neighbour onto the image grid (an identity when the grids agree). FRACTIONAL segments are
thresholded at 0.5; LABELMAP segmentations give the voxels of the segment's number.

A SEG with N segments gives N cases that are loaded one after the other on the same image (radiomics groups cases
by image). Decoding the SEG (``highdicom.seg.segread``: parsing every frame's functional groups and indexing them)
is most of the time of one mask, so the decoded object is kept in a small per-process cache, see
:data:`SEG_CACHE_ENTRIES` and :data:`SEG_CACHE_BYTES`, and the N masks cost one decode. The cache key includes the
file's identity, size, mtime and ctime (a rewritten file is read again) and the calling thread, because highdicom's
frame index is an SQLite connection that may only be used by the thread that made it.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from eucaim_lab.imaging._case import CaseError
from eucaim_lab.imaging._qc import META_FRAME_OF_REFERENCE, META_SOP_UIDS

if TYPE_CHECKING:
    import numpy as np
    import SimpleITK as sitk

__all__ = ["SEG_CACHE_BYTES", "SEG_CACHE_ENTRIES", "clear_seg_cache", "read_seg_mask"]

FRACTIONAL_THRESHOLD = 0.5

#: at most this many decoded SEG files are kept per process (all threads together), least recently used dropped
#: first; 0 turns the cache off
SEG_CACHE_ENTRIES = 4
#: and at most this many bytes of SEG files (the sum of their sizes on disk): a larger file is decoded for each
#: mask and never kept. A decoded SEG takes about 1.5 times its file's size in memory (the pixel data as stored
#: plus highdicom's per-frame metadata and index), so the cache holds at most about 768 MiB per process.
SEG_CACHE_BYTES = 512 << 20

# (pid, thread, path, st_dev, st_ino, st_size, st_mtime_ns, st_ctime_ns) -> (file size, decoded SEG)
_CacheKey = tuple[int, int, str, int, int, int, int, int]
_cache: OrderedDict[_CacheKey, tuple[int, Any]] = OrderedDict()
_cache_lock = threading.Lock()


def clear_seg_cache() -> None:
    """Forget every decoded SEG kept by :func:`read_seg_mask` in this process (frees their memory)."""
    with _cache_lock:
        _cache.clear()


def _segread(path: str) -> Any:
    import highdicom as hd

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return hd.seg.segread(path)
    except Exception as exc:  # highdicom/pydicom raise many kinds on invalid objects
        raise CaseError(f"Cannot read DICOM SEG {path}: {exc}".splitlines()[0]) from exc


def _decoded_seg(path: str) -> Any:
    """The highdicom Segmentation of ``path``: from the cache when this thread decoded the same file version."""
    entries, budget = SEG_CACHE_ENTRIES, SEG_CACHE_BYTES
    try:
        st = os.stat(path)
    except OSError:
        return _segread(path)  # raises the CaseError that names the file
    if entries <= 0 or st.st_size > budget:
        return _segread(path)
    key: _CacheKey = (
        os.getpid(), threading.get_ident(), os.fspath(path),
        st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns,
    )
    with _cache_lock:
        entry = _cache.get(key)
        if entry is not None:
            _cache.move_to_end(key)
            return entry[1]
    seg = _segread(path)  # outside the lock: other threads keep their cache hits meanwhile
    with _cache_lock:
        for stale in [k for k in _cache if k[:3] == key[:3]]:  # an older version of this file, this thread
            del _cache[stale]
        _cache[key] = (st.st_size, seg)
        while len(_cache) > entries or sum(size for size, _ in _cache.values()) > budget:
            _cache.popitem(last=False)
    return seg


def _binarise(array: np.ndarray, seg: Any) -> np.ndarray:
    import numpy as np

    if str(seg.SegmentationType) == "FRACTIONAL":
        return (array >= FRACTIONAL_THRESHOLD).astype(np.uint8)
    return (array > 0).astype(np.uint8)


def read_seg_mask(path: str, segment_number: int, image: sitk.Image) -> sitk.Image:
    """Segment ``segment_number`` of the SEG at ``path`` on ``image``'s grid: uint8, values 0 and 1."""
    import numpy as np
    import SimpleITK as sitk

    seg = _decoded_seg(path)
    if segment_number not in [int(n) for n in seg.segment_numbers]:
        raise CaseError(
            f"DICOM SEG {path} has no segment {segment_number}; it has {list(seg.segment_numbers)}."
        )
    image_frame = (
        image.GetMetaData(META_FRAME_OF_REFERENCE) if image.HasMetaDataKey(META_FRAME_OF_REFERENCE) else None
    )
    seg_frame = str(seg.get("FrameOfReferenceUID", "")) or None
    if image_frame and seg_frame and image_frame != seg_frame:
        raise CaseError(f"DICOM SEG {path} is in frame of reference {seg_frame}, the image in {image_frame}.")

    slots = image.GetMetaData(META_SOP_UIDS).split("\\") if image.HasMetaDataKey(META_SOP_UIDS) else []
    sop_uids = [uid for uid in slots if uid]
    referenced = {uid for _, _, uid in seg.get_source_image_uids()} if sop_uids else set()
    if sop_uids and referenced & set(sop_uids):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pixels = seg.get_pixels_by_source_instance(
                    source_sop_instance_uids=sop_uids,
                    segment_numbers=[segment_number],
                    assert_missing_frames_are_empty=True,
                    ignore_spatial_locations=True,
                    skip_overlap_checks=True,
                )
        except Exception as exc:  # highdicom: ValueError or RuntimeError
            raise CaseError(
                f"Cannot place the frames of DICOM SEG {path} on the image slices: {exc}".splitlines()[0]
            ) from exc
        frames = _binarise(np.asarray(pixels)[..., 0], seg)
        expected = sitk.GetArrayViewFromImage(image).shape
        if frames.shape[1:] == expected[1:] and len(slots) == expected[0]:
            array = np.zeros(expected, dtype=np.uint8)
            array[[i for i, uid in enumerate(slots) if uid]] = frames
            if len(sop_uids) < len(slots):
                # slices interpolated into a gap of the series: the segment there is its nearest neighbour's
                # (the frames of missing source images do not exist)
                present = np.array([i for i, uid in enumerate(slots) if uid])
                for i in (i for i, uid in enumerate(slots) if not uid):
                    array[i] = array[present[np.argmin(np.abs(present - i))]]
            mask = sitk.GetImageFromArray(array)
            mask.CopyInformation(image)
            return mask
    return _resample_volume(seg, path, segment_number, image)


def _resample_volume(seg: Any, path: str, segment_number: int, image: sitk.Image) -> sitk.Image:
    import numpy as np
    import SimpleITK as sitk

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            volume = seg.get_volume(
                segment_numbers=[segment_number], combine_segments=False, skip_overlap_checks=True
            )
    except Exception as exc:  # highdicom: the frames do not form a regular volume
        raise CaseError(
            f"DICOM SEG {path} does not form a volume that can be matched to the image: {exc}"
        ) from exc
    array = np.asarray(volume.array)
    if array.ndim == 4:
        array = array[..., 0]
    binary = volume.with_array(_binarise(array, seg))
    moving = binary.to_simpleitk()
    resampled = sitk.Resample(moving, image, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)
    if int(sitk.GetArrayViewFromImage(resampled).sum()) == 0 and int(array.sum()) > 0:
        raise CaseError(f"DICOM SEG {path} segment {segment_number} lies outside the image grid.")
    return resampled
