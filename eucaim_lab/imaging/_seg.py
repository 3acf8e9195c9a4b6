"""DICOM SEG segment -> binary mask on an image grid, with highdicom.

Frames are matched to the image slices by the SOP Instance UIDs they were derived from where the image was stacked by
our DICOM reader; otherwise (no source references, or multi-frame images) the SEG is read as a highdicom volume and
resampled with nearest-neighbour onto the image grid (an identity when the grids agree). FRACTIONAL segments are
thresholded at 0.5; LABELMAP segmentations give the voxels of the segment's number.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from eucaim_lab.imaging._case import CaseError
from eucaim_lab.imaging._qc import META_FRAME_OF_REFERENCE, META_SOP_UIDS

if TYPE_CHECKING:
    import numpy as np
    import SimpleITK as sitk

__all__ = ["read_seg_mask"]

FRACTIONAL_THRESHOLD = 0.5


def _segread(path: str) -> Any:
    import highdicom as hd

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return hd.seg.segread(path)
    except Exception as exc:  # highdicom/pydicom raise many kinds on invalid objects
        raise CaseError(f"Cannot read DICOM SEG {path}: {exc}".splitlines()[0]) from exc


def _binarise(array: np.ndarray, seg: Any) -> np.ndarray:
    import numpy as np

    if str(seg.SegmentationType) == "FRACTIONAL":
        return (array >= FRACTIONAL_THRESHOLD).astype(np.uint8)
    return (array > 0).astype(np.uint8)


def read_seg_mask(path: str, segment_number: int, image: sitk.Image) -> sitk.Image:
    """Segment ``segment_number`` of the SEG at ``path`` on ``image``'s grid: uint8, values 0 and 1."""
    import numpy as np
    import SimpleITK as sitk

    seg = _segread(path)
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
