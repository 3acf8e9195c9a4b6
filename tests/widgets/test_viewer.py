"""The offline viewer renders the mask where it is, keeps the voxel aspect, and its controls redraw."""

from __future__ import annotations

import io

import numpy as np
import pytest
import SimpleITK as sitk
from PIL import Image

from eucaim_lab._errors import InvalidInputError
from eucaim_lab.widgets import SliceViewer, qc_montage, view


def _phantom():
    arr = np.full((20, 40, 30), -1000, dtype=np.int16)  # z, y, x
    arr[:, 5:35, 5:25] = 40
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing((1.0, 1.0, 3.0))
    m = np.zeros(arr.shape, dtype=np.uint8)
    m[12:15, 10:20, 8:14] = 1
    m[13, 20:25, 8:14] = 1  # slice 13 holds the most mask
    mask = sitk.GetImageFromArray(m)
    mask.CopyInformation(img)
    return img, mask, m


def test_overlay_is_where_the_mask_is():
    img, mask, m = _phantom()
    v = SliceViewer(img, mask, window="soft tissue", opacity=0.5)
    assert v.index["axial"] == 13  # the slice with the most mask
    rgb = v.render().astype(int)
    inside = m[13] > 0
    red = rgb[..., 0] - rgb[..., 1]
    assert (red[inside] > 40).all()
    assert (red[~inside] == 0).all()  # grey everywhere else
    v.show_mask = False
    plain = v.render()
    assert (plain[..., 0] == plain[..., 1]).all()


def test_windows_change_grey_levels():
    img, mask, _ = _phantom()
    v = SliceViewer(img, None, window="soft tissue")
    soft = v.render()[20, 15, 0]  # tissue at 40 HU, the centre of the soft-tissue window
    v.window = "lung"
    lung = v.render()[20, 15, 0]
    assert 120 <= soft <= 135 and lung > 200
    with pytest.raises(InvalidInputError, match="Unknown window preset"):
        SliceViewer(img, None, window="disco")


def test_png_keeps_the_voxel_aspect():
    img, mask, _ = _phantom()
    v = SliceViewer(img, mask, size=300)
    axial = Image.open(io.BytesIO(v.render_png("axial")))
    coronal = Image.open(io.BytesIO(v.render_png("coronal")))
    assert axial.size == (225, 300)  # 30 x 40 voxels of 1 x 1 mm
    assert coronal.size == (150, 300)  # 30 mm wide, 20 slices x 3 mm = 60 mm high, scaled to 300 px max


def test_mismatched_mask_is_refused():
    img, _, _ = _phantom()
    other = sitk.Image(5, 5, 5, sitk.sitkUInt8)
    with pytest.raises(InvalidInputError, match="differs from the image"):
        view(img, other)
    with pytest.raises(InvalidInputError, match="Unknown viewer backend"):
        view(img, backend="vtk")


def test_widget_controls_redraw():
    img, mask, _ = _phantom()
    v = SliceViewer(img, mask)
    box = v.widget
    first = v._controls["image"].value
    v._controls["slice"].value = 2
    assert v._controls["image"].value != first and v.index["axial"] == 2
    v._controls["plane"].value = "sagittal"
    assert v._controls["slice"].max == 29 and v._controls["slice"].value == v.index["sagittal"]
    assert "eucaim-viewer" in box._dom_classes


def test_qc_montage_writes_a_page_and_survives_a_broken_case(tmp_path):
    from eucaim_lab.imaging import Case, ImageRef, MaskRef

    img, mask, _ = _phantom()
    sitk.WriteImage(img, str(tmp_path / "a_image.nrrd"))
    sitk.WriteImage(mask, str(tmp_path / "a_label.nrrd"))
    good = Case(case_id="a", patient_id="a", modality=None, roi="label_1",
                image=ImageRef(kind="file", paths=(str(tmp_path / "a_image.nrrd"),)),
                mask=MaskRef(kind="file", path=str(tmp_path / "a_label.nrrd")))
    broken = Case(case_id="b", patient_id="b", modality=None, roi="label_1",
                  image=ImageRef(kind="file", paths=(str(tmp_path / "missing.nrrd"),)),
                  mask=MaskRef(kind="file", path=str(tmp_path / "a_label.nrrd")))
    out = tmp_path / "montage.png"
    fig = qc_montage([good, broken], columns=2, path=out)
    assert out.stat().st_size > 1000
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert any(t.startswith("b\n") for t in texts)  # the broken case's panel says why
    assert fig.axes[0].get_title().startswith("a\n")
