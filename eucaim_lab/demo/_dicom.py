"""Write a phantom as DICOM: a CT series (pydicom), a DICOM SEG (highdicom) and an RTSTRUCT (pydicom).

Every UID is derived from the seed, the dataset id, the patient id and the object's role, and every date and time
is fixed, so the same inputs give byte-identical files.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..catalogue._vocab import BodyPart
from ._phantom import GRID_SHAPE, SPACING_MM

if TYPE_CHECKING:  # pragma: no cover
    from pydicom.dataset import Dataset

    from ._phantom import PatientLatents
    from ._spec import DatasetSpec, Site

__all__ = [
    "SOFTWARE_VERSION",
    "UidFactory",
    "slice_contours",
    "write_ct_series",
    "write_rtstruct",
    "write_seg",
]

SOFTWARE_VERSION = "eucaim-lab demo generator 1"
_CT_SERIES_NUMBER = 2
_SEG_SERIES_NUMBER = 100
_RTSTRUCT_SERIES_NUMBER = 200
# DICOM "Detached Study Management" SOP class, referenced by RTReferencedStudySequence by convention
_STUDY_COMPONENT_SOP_CLASS = "1.2.840.10008.3.1.2.3.1"
# body parts that come in pairs: DICOM Laterality (0020,0060) is then required (type 2C)
_PAIRED = frozenset({BodyPart.LUNG, BodyPart.BREAST, BodyPart.EXTREMITY, BodyPart.KIDNEY})


class UidFactory:
    """Deterministic UIDs: a hash of the seed, dataset, patient and role under pydicom's UID root."""

    def __init__(self, seed: int, dataset_id: str, patient_id: str) -> None:
        self._parts = ["eucaim-lab-demo", str(seed), dataset_id, patient_id]

    def __call__(self, *role: object) -> str:
        from pydicom.uid import generate_uid

        return str(generate_uid(entropy_srcs=[*self._parts, *(str(r) for r in role)]))


def _origin_mm() -> tuple[float, float, float]:
    """Patient (x, y, z) of the first voxel: the grid is centred on the patient-coordinate origin."""
    nz, ny, nx = GRID_SHAPE
    sz, sy, sx = SPACING_MM
    return (-(nx - 1) / 2.0 * sx, -(ny - 1) / 2.0 * sy, -(nz - 1) / 2.0 * sz)


def _ds(value: float) -> str:
    """A decimal string without float noise ('-31.5', '2.5')."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _body_part_examined(spec: DatasetSpec) -> str:
    """DICOM BodyPartExamined (0018,0015) for the spec's body part ('LUNG', 'EXTREMITY', 'HEADNECK' ...)."""
    return spec.body_part.value.upper().replace("-", "")


def _date(patient: PatientLatents) -> str:
    return patient.study_date.strftime("%Y%m%d")


def _save(ds: Dataset, path: Path) -> None:
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)


def _patient_study(
    ds: Dataset, spec: DatasetSpec, patient: PatientLatents, site: Site, uids: UidFactory
) -> None:
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.PatientName = f"{patient.patient_id}^"  # one component, marked as such
    ds.PatientID = patient.patient_id
    ds.PatientBirthDate = ""
    ds.PatientSex = patient.sex
    ds.PatientAge = f"{patient.age:03d}Y"
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = "Synthetic data: no real patient"
    ds.StudyInstanceUID = uids("study")
    ds.StudyDate = _date(patient)
    ds.StudyTime = patient.study_time
    ds.StudyID = "1"
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = f"CT {spec.body_part.value}"
    ds.InstitutionName = site.institution


def write_ct_series(
    folder: Path, spec: DatasetSpec, patient: PatientLatents, site: Site, hu: np.ndarray, uids: UidFactory
) -> list[Dataset]:
    """Write one CT Image Storage file per slice (``CT_001.dcm`` ...) and return the datasets, in slice order."""
    from pydicom.dataset import Dataset
    from pydicom.uid import CTImageStorage

    if hu.shape != GRID_SHAPE or hu.dtype != np.int16:
        raise ValueError(f"Expected an int16 HU volume of shape {GRID_SHAPE}. Got {hu.dtype} {hu.shape}.")
    x0, y0, z0 = _origin_mm()
    sz, sy, sx = SPACING_MM
    stored = (hu.astype(np.int32) - site.rescale_intercept).astype(np.int16)
    series_uid = uids("ct-series")
    frame_uid = uids("frame-of-reference")
    # series-level attributes are built once; each slice gets its own copy of the element mapping
    series = Dataset()
    _patient_study(series, spec, patient, site, uids)
    series.SOPClassUID = CTImageStorage
    series.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    series.Modality = "CT"
    series.BodyPartExamined = _body_part_examined(spec)
    if spec.body_part in _PAIRED:
        series.Laterality = patient.laterality  # type 2C: required for paired body parts
    series.SeriesInstanceUID = series_uid
    series.SeriesNumber = _CT_SERIES_NUMBER
    series.SeriesDescription = f"CT {spec.body_part.value} {site.kernel}"
    series.SeriesDate = series.AcquisitionDate = series.ContentDate = _date(patient)
    series.SeriesTime = series.AcquisitionTime = series.ContentTime = patient.study_time
    series.InstanceCreationDate = _date(patient)
    series.InstanceCreationTime = patient.study_time
    series.Manufacturer = site.manufacturer
    series.ManufacturerModelName = site.model
    series.DeviceSerialNumber = f"{site.site_id}-0001"
    series.SoftwareVersions = SOFTWARE_VERSION
    series.StationName = site.site_id
    series.PatientPosition = "HFS"
    series.FrameOfReferenceUID = frame_uid
    series.PositionReferenceIndicator = ""
    series.AcquisitionNumber = 1
    series.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
    series.SliceThickness = _ds(sz)
    series.SpacingBetweenSlices = _ds(sz)
    series.PixelSpacing = [_ds(sy), _ds(sx)]
    series.KVP = str(site.kvp)
    series.ConvolutionKernel = site.kernel
    series.SamplesPerPixel = 1
    series.PhotometricInterpretation = "MONOCHROME2"
    series.Rows, series.Columns = GRID_SHAPE[1], GRID_SHAPE[2]
    series.BitsAllocated = 16
    series.BitsStored = 16
    series.HighBit = 15
    series.PixelRepresentation = 1
    series.RescaleIntercept = str(site.rescale_intercept)
    series.RescaleSlope = "1"
    series.RescaleType = "HU"
    series.WindowCenter = "40"
    series.WindowWidth = "400"
    datasets = []
    for k in range(GRID_SHAPE[0]):
        ds = Dataset(dict(series.items()))
        ds.SOPInstanceUID = uids("ct", k)
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = [_ds(x0), _ds(y0), _ds(z0 + k * sz)]
        ds.SliceLocation = _ds(z0 + k * sz)
        ds.PixelData = np.ascontiguousarray(stored[k]).astype("<i2").tobytes()
        _save(ds, folder / f"CT_{k + 1:03d}.dcm")
        datasets.append(ds)
    return datasets


def _replace_uid(ds: Dataset, old: str, new: str) -> None:
    """Replace every UI element equal to ``old`` in ``ds`` and its sequences by ``new``."""
    for element in ds.iterall():
        if element.VR == "UI" and element.value == old:
            element.value = new


def write_seg(
    path: Path,
    spec: DatasetSpec,
    patient: PatientLatents,
    site: Site,
    ct: Sequence[Dataset],
    mask: np.ndarray,
    uids: UidFactory,
) -> None:
    """Write the tumour mask as a BINARY DICOM SEG with one segment 'Tumour' (MANUAL) referencing ``ct``."""
    import highdicom as hd
    from pydicom.sr.codedict import codes
    from pydicom.valuerep import DA, TM

    description = hd.seg.SegmentDescription(
        segment_number=1,
        segment_label="Tumour",
        segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
        segmented_property_type=codes.SCT.Neoplasm,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
        tracking_uid=uids("tumour-tracking"),
        tracking_id=f"{patient.patient_id} tumour",
    )
    seg = hd.seg.Segmentation(
        source_images=list(ct),
        pixel_array=mask.astype(np.uint8),
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=[description],
        series_instance_uid=uids("seg-series"),
        series_number=_SEG_SERIES_NUMBER,
        sop_instance_uid=uids("seg"),
        instance_number=1,
        manufacturer="eucaim-lab",
        manufacturer_model_name="demo generator",
        software_versions=SOFTWARE_VERSION,
        device_serial_number="0",
        content_description="Gross tumour delineation",
        content_creator_name="Demo^Radiologist",
        content_label="TUMOUR",
        series_description="Tumour segmentation",
        content_date=patient.study_date,
        content_time=_time(patient.study_time),
    )
    # highdicom stamps the wall clock (creation, contributing equipment) and a random dimension-organisation
    # UID: fix them all so the same seed gives the same bytes
    seg.InstanceCreationDate = DA(_date(patient))
    seg.InstanceCreationTime = TM(patient.study_time)
    for item in getattr(seg, "ContributingEquipmentSequence", []):
        if "ContributionDateTime" in item:
            item.ContributionDateTime = _date(patient) + patient.study_time
    for item in getattr(seg, "DimensionOrganizationSequence", []):
        _replace_uid(seg, str(item.DimensionOrganizationUID), uids("seg-dimension-organisation"))
    seg.InstitutionName = site.institution
    seg.BodyPartExamined = _body_part_examined(spec)
    path.parent.mkdir(parents=True, exist_ok=True)
    seg.save_as(path, enforce_file_format=True)


def _time(hhmmss: str) -> dt.time:
    return dt.time(int(hhmmss[:2]), int(hhmmss[2:4]), int(hhmmss[4:6]))


def slice_contours(mask2d: np.ndarray) -> list[np.ndarray]:
    """Closed polygons (N x 2, as (row, column) voxel indices) around each region of a 2-D mask.

    The polygons run through the midpoints between inside and outside voxel centres (marching squares at 0.5), so
    a voxel centre lies inside a polygon exactly when the voxel is in the mask.
    """
    import contourpy

    padded = np.pad(mask2d.astype(np.float64), 1)
    generator = contourpy.contour_generator(
        z=padded, line_type=contourpy.LineType.Separate, corner_mask=False, name="serial"
    )
    polygons = []
    for line in generator.lines(0.5):
        pts = np.asarray(line, dtype=np.float64)
        if len(pts) and np.allclose(pts[0], pts[-1]):
            pts = pts[:-1]
        if len(pts) >= 3:
            # contourpy gives (x, y) = (column, row) in the padded grid
            polygons.append(np.stack([pts[:, 1] - 1.0, pts[:, 0] - 1.0], axis=1))
    return polygons


def write_rtstruct(
    path: Path,
    spec: DatasetSpec,
    patient: PatientLatents,
    site: Site,
    ct: Sequence[Dataset],
    mask: np.ndarray,
    uids: UidFactory,
) -> int:
    """Write the tumour as ROI 'GTV' of an RTSTRUCT referencing ``ct``; returns the number of contours."""
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence as DicomSequence
    from pydicom.uid import RTStructureSetStorage

    ds = Dataset()
    _patient_study(ds, spec, patient, site, uids)
    ds.SOPClassUID = RTStructureSetStorage
    ds.SOPInstanceUID = uids("rtstruct")
    ds.Modality = "RTSTRUCT"
    ds.SeriesInstanceUID = uids("rtstruct-series")
    ds.SeriesNumber = _RTSTRUCT_SERIES_NUMBER
    ds.SeriesDescription = "Tumour contours"
    ds.SeriesDate = ds.InstanceCreationDate = _date(patient)
    ds.SeriesTime = ds.InstanceCreationTime = patient.study_time
    ds.Manufacturer = "eucaim-lab"
    ds.ManufacturerModelName = "demo generator"
    ds.SoftwareVersions = SOFTWARE_VERSION
    ds.InstanceNumber = 1
    ds.OperatorsName = "Demo^Radiologist"
    ds.StructureSetLabel = "GTV"
    ds.StructureSetName = "Tumour"
    ds.StructureSetDate = _date(patient)
    ds.StructureSetTime = patient.study_time
    frame_uid = str(ct[0].FrameOfReferenceUID)
    ds.FrameOfReferenceUID = frame_uid
    ds.PositionReferenceIndicator = ""

    def image_ref(image: Dataset) -> Dataset:
        ref = Dataset()
        ref.ReferencedSOPClassUID = image.SOPClassUID
        ref.ReferencedSOPInstanceUID = image.SOPInstanceUID
        return ref

    series_ref = Dataset()
    series_ref.SeriesInstanceUID = ct[0].SeriesInstanceUID
    series_ref.ContourImageSequence = DicomSequence([image_ref(image) for image in ct])
    study_ref = Dataset()
    study_ref.ReferencedSOPClassUID = _STUDY_COMPONENT_SOP_CLASS
    study_ref.ReferencedSOPInstanceUID = ct[0].StudyInstanceUID
    study_ref.RTReferencedSeriesSequence = DicomSequence([series_ref])
    frame_ref = Dataset()
    frame_ref.FrameOfReferenceUID = frame_uid
    frame_ref.RTReferencedStudySequence = DicomSequence([study_ref])
    ds.ReferencedFrameOfReferenceSequence = DicomSequence([frame_ref])

    roi = Dataset()
    roi.ROINumber = 1
    roi.ReferencedFrameOfReferenceUID = frame_uid
    roi.ROIName = "GTV"
    roi.ROIDescription = "Gross tumour volume"
    roi.ROIGenerationAlgorithm = "MANUAL"
    ds.StructureSetROISequence = DicomSequence([roi])

    contours = []
    for k, image in enumerate(ct):
        x0, y0, z = (float(v) for v in image.ImagePositionPatient)
        row_mm, col_mm = (float(v) for v in image.PixelSpacing)
        for polygon in slice_contours(mask[k]):
            # axial slices, orientation (1,0,0,0,1,0): x follows columns, y follows rows
            xs = x0 + polygon[:, 1] * col_mm
            ys = y0 + polygon[:, 0] * row_mm
            data = np.stack([xs, ys, np.full_like(xs, z)], axis=1).ravel()
            contour = Dataset()
            contour.ContourImageSequence = DicomSequence([image_ref(image)])
            contour.ContourGeometricType = "CLOSED_PLANAR"
            contour.NumberOfContourPoints = len(polygon)
            contour.ContourData = [_ds(round(v, 4)) for v in data]
            contours.append(contour)
    roi_contour = Dataset()
    roi_contour.ReferencedROINumber = 1
    roi_contour.ROIDisplayColor = [255, 0, 0]
    roi_contour.ContourSequence = DicomSequence(contours)
    ds.ROIContourSequence = DicomSequence([roi_contour])

    observation = Dataset()
    observation.ObservationNumber = 1
    observation.ReferencedROINumber = 1
    observation.RTROIInterpretedType = "GTV"
    observation.ROIInterpreter = ""
    ds.RTROIObservationsSequence = DicomSequence([observation])
    ds.ApprovalStatus = "UNAPPROVED"
    _save(ds, path)
    return len(contours)
