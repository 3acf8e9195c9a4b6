"""An offline image + mask viewer: ipywidgets only, rendered to PNG in the kernel, so it works without network
(inside the sandbox, on a plane) where itkwidgets' viewer page cannot load.

Three planes with slice scrolling, CT window/level presets, label colours with adjustable opacity and outlines.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from .._errors import InvalidInputError, require

__all__ = ["LABEL_COLOURS", "WINDOW_PRESETS", "SliceViewer", "view"]

#: (width, level) in HU
WINDOW_PRESETS: dict[str, tuple[float, float] | None] = {
    "auto": None,
    "soft tissue": (400.0, 40.0),
    "lung": (1500.0, -600.0),
    "bone": (1800.0, 400.0),
    "brain": (80.0, 40.0),
    "liver": (150.0, 30.0),
    "mediastinum": (350.0, 50.0),
}
LABEL_COLOURS = np.array(
    [(0, 0, 0), (255, 64, 64), (64, 200, 64), (64, 128, 255), (255, 200, 0), (200, 64, 255), (0, 220, 220)],
    dtype=np.uint8,
)
PLANES = ("axial", "coronal", "sagittal")


def _as_arrays(image: Any, mask: Any) -> tuple[np.ndarray, np.ndarray | None, tuple[float, float, float]]:
    import SimpleITK as sitk

    if isinstance(image, (str, bytes)) or hasattr(image, "__fspath__"):
        image = sitk.ReadImage(str(image))
    if isinstance(mask, (str, bytes)) or hasattr(mask, "__fspath__"):
        mask = sitk.ReadImage(str(mask))
    if not isinstance(image, sitk.Image):
        raise InvalidInputError(f"view() needs a Case, a SimpleITK image or a file path. Got {type(image).__name__}.")
    arr = sitk.GetArrayFromImage(image).astype(np.float32)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise InvalidInputError(f"view() shows 2D or 3D scalar images. Got an array of shape {arr.shape}.")
    m = None
    if mask is not None:
        if mask.GetSize() != image.GetSize():
            raise InvalidInputError(
                f"The mask's size {mask.GetSize()} differs from the image's {image.GetSize()}; resample it onto "
                "the image grid first (Case.load does)."
            )
        m = sitk.GetArrayFromImage(mask).astype(np.uint8)
        if m.ndim == 2:
            m = m[None]
    sx, sy, *rest = image.GetSpacing()
    return arr, m, (float(rest[0]) if rest else 1.0, float(sy), float(sx))


class SliceViewer:
    """Multi-planar slice viewer of an image with an optional label mask."""

    def __init__(self, image: Any, mask: Any = None, *, title: str | None = None, window: str = "auto",
                 opacity: float = 0.4, size: int = 384) -> None:
        if window not in WINDOW_PRESETS:
            raise InvalidInputError(f"Unknown window preset {window!r}. Known presets: {', '.join(WINDOW_PRESETS)}.")
        self.volume, self.mask, self.spacing = _as_arrays(image, mask)
        self.title = title
        self.size = size
        self.plane = "axial"
        self.window = window
        self.opacity = float(opacity)
        self.show_mask = self.mask is not None
        lo, hi = np.percentile(self.volume, [1, 99])
        self._auto = (float(max(hi - lo, 1.0)), float((hi + lo) / 2))
        self.index = {p: self._best_slice(p) for p in PLANES}
        self._widget: Any = None

    # ----- pure rendering (testable without a browser) ----------------------------------------------------
    def _axis(self, plane: str) -> int:
        return {"axial": 0, "coronal": 1, "sagittal": 2}[plane]

    def _best_slice(self, plane: str) -> int:
        axis = self._axis(plane)
        n = int(self.volume.shape[axis])
        if self.mask is None or not self.mask.any():
            return n // 2
        other = tuple(a for a in range(3) if a != axis)
        return int(np.argmax((self.mask > 0).sum(axis=other)))

    def slice_count(self, plane: str | None = None) -> int:
        return int(self.volume.shape[self._axis(plane or self.plane)])

    def _take(self, arr: np.ndarray, plane: str, index: int) -> np.ndarray:
        sl: np.ndarray = np.take(arr, index, axis=self._axis(plane))
        return sl[::-1] if plane != "axial" else sl  # superior at the top for coronal and sagittal

    def window_level(self) -> tuple[float, float]:
        preset = WINDOW_PRESETS[self.window]
        return preset if preset is not None else self._auto

    def render(self, plane: str | None = None, index: int | None = None) -> np.ndarray:
        """The displayed slice as an RGB uint8 array (before resizing)."""
        plane = plane or self.plane
        index = self.index[plane] if index is None else index
        if not 0 <= index < self.slice_count(plane):
            raise InvalidInputError(f"Slice {index} is outside 0..{self.slice_count(plane) - 1} of the {plane} plane.")
        width, level = self.window_level()
        grey = self._take(self.volume, plane, index)
        grey = np.clip((grey - (level - width / 2)) / width, 0, 1)
        rgb = np.repeat((grey * 255).astype(np.uint8)[..., None], 3, axis=-1)
        if self.mask is not None and self.show_mask:
            labels = self._take(self.mask, plane, index)
            colours = LABEL_COLOURS[1 + (labels.astype(int) - 1) % (len(LABEL_COLOURS) - 1)]
            inside = labels > 0
            rgb[inside] = ((1 - self.opacity) * rgb[inside] + self.opacity * colours[inside]).astype(np.uint8)
            edge = inside & ~_eroded(inside)
            rgb[edge] = colours[edge]
        return rgb

    def render_png(self, plane: str | None = None, index: int | None = None) -> bytes:
        """The displayed slice as PNG bytes, scaled to ``size`` pixels with the voxel aspect ratio kept."""
        from PIL import Image

        plane = plane or self.plane
        rgb = self.render(plane, index)
        dz, dy, dx = self.spacing
        row_mm, col_mm = {"axial": (dy, dx), "coronal": (dz, dx), "sagittal": (dz, dy)}[plane]
        h_mm, w_mm = rgb.shape[0] * row_mm, rgb.shape[1] * col_mm
        scale = self.size / max(h_mm, w_mm)
        out_size = (max(1, round(w_mm * scale)), max(1, round(h_mm * scale)))
        buf = io.BytesIO()
        Image.fromarray(rgb).resize(out_size, Image.Resampling.NEAREST).save(buf, format="PNG")
        return buf.getvalue()

    # ----- the widget -------------------------------------------------------------------------------------
    @property
    def widget(self) -> Any:
        if self._widget is None:
            self._widget = self._build()
        return self._widget

    def _build(self) -> Any:
        widgets = require("ipywidgets", "The image viewer")
        image = widgets.Image(value=self.render_png(), format="png", layout=widgets.Layout(width=f"{self.size}px"))
        image.add_class("eucaim-viewer-image")
        plane = widgets.ToggleButtons(options=list(PLANES), value=self.plane, description="Plane")
        slider = widgets.IntSlider(value=self.index[self.plane], min=0, max=self.slice_count() - 1,
                                   description="Slice", continuous_update=True)
        window = widgets.Dropdown(options=list(WINDOW_PRESETS), value=self.window, description="Window")
        opacity = widgets.FloatSlider(value=self.opacity, min=0, max=1, step=0.05, description="Mask")
        show = widgets.Checkbox(value=self.show_mask, description="show mask", disabled=self.mask is None)

        def redraw(*_: Any) -> None:
            self.index[self.plane] = slider.value
            image.value = self.render_png()

        def on_plane(change: dict[str, Any]) -> None:
            self.plane = change["new"]
            slider.unobserve(redraw, "value")
            slider.max = self.slice_count() - 1
            slider.value = self.index[self.plane]
            slider.observe(redraw, "value")
            redraw()

        def on_window(change: dict[str, Any]) -> None:
            self.window = change["new"]
            redraw()

        def on_opacity(change: dict[str, Any]) -> None:
            self.opacity = change["new"]
            redraw()

        def on_show(change: dict[str, Any]) -> None:
            self.show_mask = change["new"]
            redraw()

        slider.observe(redraw, "value")
        plane.observe(on_plane, "value")
        window.observe(on_window, "value")
        opacity.observe(on_opacity, "value")
        show.observe(on_show, "value")
        self._controls = {"plane": plane, "slice": slider, "window": window, "opacity": opacity, "show": show,
                          "image": image}
        header = [widgets.HTML(f"<b>{self.title}</b>")] if self.title else []
        box = widgets.VBox([*header, image, plane, slider, widgets.HBox([window, opacity, show])])
        box.add_class("eucaim-viewer")
        return box

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


def _eroded(mask: np.ndarray) -> np.ndarray:
    out = mask.copy()
    out[1:, :] &= mask[:-1, :]
    out[:-1, :] &= mask[1:, :]
    out[:, 1:] &= mask[:, :-1]
    out[:, :-1] &= mask[:, 1:]
    return out


def view(case_or_image: Any, mask: Any = None, *, backend: str = "offline", **options: Any) -> Any:
    """Show an image with its mask: a :class:`~eucaim_lab.imaging.Case`, a SimpleITK image or a file path.

    ``backend="offline"`` (default) always works, also without network; ``backend="itk"`` uses itkwidgets, whose
    viewer page loads from the internet.
    """
    title = options.pop("title", None)
    if hasattr(case_or_image, "load") and hasattr(case_or_image, "case_id"):
        image, mask = case_or_image.load()
        title = title or f"{case_or_image.case_id} ({case_or_image.roi})"
    else:
        image = case_or_image
    if backend == "itk":
        itkwidgets = require("itkwidgets", "The itkwidgets 3D viewer", "pip install 'itkwidgets>=1.0a50'")
        return itkwidgets.view(image=image, label_image=mask, **options)
    if backend != "offline":
        raise InvalidInputError(f"Unknown viewer backend {backend!r}. Known backends: offline, itk.")
    return SliceViewer(image, mask, title=title, **options)
