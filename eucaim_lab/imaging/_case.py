"""The unit of work of imaging and radiomics: one image plus one region in it (a :class:`Case`).

A case only holds references (file paths, UIDs, segment/ROI numbers); it is small, frozen and picklable so that it can
travel to Dask workers, and it loads its pixels only when asked (:meth:`Case.load`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from eucaim_lab._errors import InvalidInputError

if TYPE_CHECKING:
    import SimpleITK as sitk

__all__ = ["Case", "CaseError", "ImageRef", "MaskRef"]

_CHUNK = 1 << 20


class CaseError(InvalidInputError):
    """An image or mask of a case cannot be loaded (corrupt file, mask on a grid that cannot be matched, ...).

    The message is one line naming what failed and the file it concerns.
    """

    kind = "case_error"


@dataclass(frozen=True)
class ImageRef:
    """Where the image of a case comes from.

    ``kind='dicom'``: one DICOM image series, ``paths`` are its files (sorted), ``series_uid`` its SeriesInstanceUID.
    ``kind='file'``: one NIfTI/NRRD/... file readable by SimpleITK, ``paths`` has one element, ``series_uid`` is None.
    """

    kind: Literal["dicom", "file"]
    paths: tuple[str, ...]
    series_uid: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("dicom", "file"):
            raise InvalidInputError(f"ImageRef.kind must be 'dicom' or 'file'. Got {self.kind!r}.")
        if not self.paths:
            raise InvalidInputError("ImageRef.paths must name at least one file. Got none.")
        if self.kind == "file" and len(self.paths) != 1:
            raise InvalidInputError(
                f"An ImageRef of kind 'file' names exactly one file. Got {len(self.paths)}."
            )
        if tuple(sorted(self.paths)) != tuple(self.paths):
            object.__setattr__(self, "paths", tuple(sorted(self.paths)))


@dataclass(frozen=True)
class MaskRef:
    """Where the region of a case comes from.

    ``kind='seg'``: a DICOM SEG file and the ``segment_number`` in it; ``kind='rtstruct'``: an RTSTRUCT file and the
    ``roi_number`` (ROINumber) in it; ``kind='file'``: a label image file (NIfTI/NRRD/...), both numbers None.
    """

    kind: Literal["seg", "rtstruct", "file"]
    path: str
    segment_number: int | None = None
    roi_number: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("seg", "rtstruct", "file"):
            raise InvalidInputError(f"MaskRef.kind must be 'seg', 'rtstruct' or 'file'. Got {self.kind!r}.")
        if self.kind == "seg" and self.segment_number is None:
            raise InvalidInputError(f"A SEG MaskRef needs a segment_number. Got None for {self.path}.")
        if self.kind == "rtstruct" and self.roi_number is None:
            raise InvalidInputError(f"An RTSTRUCT MaskRef needs a roi_number. Got None for {self.path}.")


@dataclass(frozen=True)
class Case:
    """One image and one region of interest in it.

    ``label`` is the value of the region inside the mask returned by :meth:`load_mask`: 1 for SEG and RTSTRUCT
    (their masks are binarised), the label value for label-image files (stored values are kept as they are).
    """

    case_id: str
    patient_id: str | None
    modality: str | None
    roi: str | None
    image: ImageRef
    mask: MaskRef
    label: int = 1

    @property
    def image_key(self) -> str:
        """Identifies the image source: cases with the same key share one image load."""
        if self.image.kind == "dicom" and self.image.series_uid:
            return f"dicom:{self.image.series_uid}:{self.image.paths[0]}"
        return f"{self.image.kind}:" + "|".join(self.image.paths)

    def load_image(self) -> sitk.Image:
        """The image as a SimpleITK image. Raises CaseError (one line naming the file) when it cannot be read.

        DICOM: RescaleSlope/Intercept applied, int16/int32 when the result is integral, float32 otherwise; slice
        findings (missing or uneven slices) are kept in the image's metadata for :func:`quality_checks`.
        Files (NIfTI, NRRD, ...): the pixel type as stored. Images inside a checkout obey its access condition.
        """
        from eucaim_lab.checkout import guard_folder

        if self.image.paths:
            guard_folder(self.image.paths[0])
        if self.image.kind == "dicom":
            from eucaim_lab.imaging._dicom import read_series

            return read_series(self.image.paths)
        from eucaim_lab.imaging._files import read_image_file

        return read_image_file(self.image.paths[0])

    def load_mask(self, image: sitk.Image) -> sitk.Image:
        """The mask as a uint8 SimpleITK image on ``image``'s grid. Raises CaseError when it cannot be matched.

        SEG and RTSTRUCT: values 0 and 1 (``label`` is 1). Label files: the values as stored (other labels stay);
        the region is the voxels equal to ``label``.
        """
        if self.mask.kind == "seg":
            from eucaim_lab.imaging._seg import read_seg_mask

            assert self.mask.segment_number is not None
            return read_seg_mask(self.mask.path, self.mask.segment_number, image)
        if self.mask.kind == "rtstruct":
            from eucaim_lab.imaging._rtstruct import read_rtstruct_mask

            assert self.mask.roi_number is not None
            return read_rtstruct_mask(self.mask.path, self.mask.roi_number, image)
        from eucaim_lab.imaging._files import read_mask_file

        return read_mask_file(self.mask.path, image)

    def load(self) -> tuple[sitk.Image, sitk.Image]:
        """Image and mask on the same grid."""
        image = self.load_image()
        return image, self.load_mask(image)

    def input_digest(self) -> str:
        """SHA3-256 (hex) of every input file's bytes plus the region selection; stable across runs and machines."""
        h = hashlib.sha3_256()
        for path in (*sorted(self.image.paths), self.mask.path):
            h.update(b"\x00file\x00")
            try:
                with Path(path).open("rb") as fh:
                    while chunk := fh.read(_CHUNK):
                        h.update(chunk)
            except OSError as exc:
                raise CaseError(
                    f"Cannot read input file {path} of case {self.case_id}: {exc.strerror}."
                ) from exc
        h.update(
            f"\x00sel\x00{self.roi}|{self.mask.kind}|{self.mask.segment_number}|{self.mask.roi_number}|{self.label}".encode()
        )
        return h.hexdigest()
