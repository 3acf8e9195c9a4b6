"""IBSI 1 compliance check: features of a phantom against a reference table in the compliance-sheet layout.

The mapping from IBSI tags to pyradiomics features is :data:`IBSI_MAPPING` (base tag -> pyradiomics feature, with a
transform where the definitions differ by a constant or are derived from pyradiomics values). The texture
aggregation suffix of a tag selects how pyradiomics runs:

- ``_3D_avg`` / ``_3D``: 3D, features per direction averaged (pyradiomics' default);
- ``_3D_comb``: 3D, matrices of all directions merged (pyradiomics ``weightingNorm: no_weighting``);
- ``_2_5D_avg`` / ``_2_5D``: in-plane directions, matrices pooled over slices (``force2D``), averaged over directions;
- ``_2_5D_comb``: as 2.5D, directions merged too.

Not mapped (pyradiomics has no equivalent; listed as unmapped in the output): per-slice 2D texture (``_2D_avg``,
``_2D_comb``, ``_2D``), distance zone matrix (``dzm_*``), intensity-volume histogram (``ivh_*``), local intensity
peaks (``loc_*``), oriented/ellipsoid/convex-hull densities, centre of mass shift, Moran's I, Geary's C, median
absolute deviation, quartile coefficient of dispersion, histogram mode and gradients, NGLDM dependence count
energy and percentage, and the diagnostics rows.
Intensity-histogram features (``ih_*``) are pyradiomics first-order features of the discretised image (the same
discretisation pyradiomics uses for texture).
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eucaim_lab._errors import InvalidInputError, NotFoundError
from eucaim_lab.radiomics._profiles import Settings, resolve_settings

if TYPE_CHECKING:
    import pandas as pd
    import SimpleITK as sitk

__all__ = ["IBSI_MAPPING", "ibsi_check", "ibsi_features"]

_FIRSTORDER = {
    "mean": "Mean", "var": "Variance", "skew": "Skewness", "kurt": "Kurtosis", "median": "Median", "min": "Minimum",
    "p10": "10Percentile", "p90": "90Percentile", "max": "Maximum", "iqr": "InterquartileRange", "range": "Range",
    "mad": "MeanAbsoluteDeviation", "rmad": "RobustMeanAbsoluteDeviation",
}
_GLCM = {
    "joint_max": "MaximumProbability", "joint_avg": "JointAverage", "joint_var": "SumSquares",
    "joint_entr": "JointEntropy", "diff_avg": "DifferenceAverage", "diff_var": "DifferenceVariance",
    "diff_entr": "DifferenceEntropy", "sum_avg": "SumAverage", "sum_var": "ClusterTendency",
    "sum_entr": "SumEntropy", "energy": "JointEnergy", "contrast": "Contrast", "dissimilarity": "DifferenceAverage",
    "inv_diff": "Id", "inv_diff_norm": "Idn", "inv_diff_mom": "Idm", "inv_diff_mom_norm": "Idmn",
    "inv_var": "InverseVariance", "corr": "Correlation", "auto_corr": "Autocorrelation",
    "clust_tend": "ClusterTendency", "clust_shade": "ClusterShade", "clust_prom": "ClusterProminence",
    "info_corr1": "Imc1", "info_corr2": "Imc2",
}
_GLRLM = {
    "sre": "ShortRunEmphasis", "lre": "LongRunEmphasis", "lgre": "LowGrayLevelRunEmphasis",
    "hgre": "HighGrayLevelRunEmphasis", "srlge": "ShortRunLowGrayLevelEmphasis",
    "srhge": "ShortRunHighGrayLevelEmphasis", "lrlge": "LongRunLowGrayLevelEmphasis",
    "lrhge": "LongRunHighGrayLevelEmphasis", "glnu": "GrayLevelNonUniformity",
    "glnu_norm": "GrayLevelNonUniformityNormalized", "rlnu": "RunLengthNonUniformity",
    "rlnu_norm": "RunLengthNonUniformityNormalized", "r_perc": "RunPercentage", "gl_var": "GrayLevelVariance",
    "rl_var": "RunVariance", "rl_entr": "RunEntropy",
}
_GLSZM = {
    "sze": "SmallAreaEmphasis", "lze": "LargeAreaEmphasis", "lgze": "LowGrayLevelZoneEmphasis",
    "hgze": "HighGrayLevelZoneEmphasis", "szlge": "SmallAreaLowGrayLevelEmphasis",
    "szhge": "SmallAreaHighGrayLevelEmphasis", "lzlge": "LargeAreaLowGrayLevelEmphasis",
    "lzhge": "LargeAreaHighGrayLevelEmphasis", "glnu": "GrayLevelNonUniformity",
    "glnu_norm": "GrayLevelNonUniformityNormalized", "zsnu": "SizeZoneNonUniformity",
    "zsnu_norm": "SizeZoneNonUniformityNormalized", "z_perc": "ZonePercentage", "gl_var": "GrayLevelVariance",
    "zs_var": "ZoneVariance", "zs_entr": "ZoneEntropy",
}
_NGTDM = {n: n.capitalize() for n in ("coarseness", "contrast", "busyness", "complexity", "strength")}
_GLDM = {
    "lde": "SmallDependenceEmphasis", "hde": "LargeDependenceEmphasis", "lgce": "LowGrayLevelEmphasis",
    "hgce": "HighGrayLevelEmphasis", "ldlge": "SmallDependenceLowGrayLevelEmphasis",
    "ldhge": "SmallDependenceHighGrayLevelEmphasis", "hdlge": "LargeDependenceLowGrayLevelEmphasis",
    "hdhge": "LargeDependenceHighGrayLevelEmphasis", "glnu": "GrayLevelNonUniformity",
    "dcnu": "DependenceNonUniformity",
    "dcnu_norm": "DependenceNonUniformityNormalized", "gl_var": "GrayLevelVariance",
    "dc_var": "DependenceVariance", "dc_entr": "DependenceEntropy",
}
_SHAPE = {
    "volume": "MeshVolume", "vol_approx": "VoxelVolume", "area_mesh": "SurfaceArea", "av": "SurfaceVolumeRatio",
    "sphericity": "Sphericity", "diam": "Maximum3DDiameter", "pca_maj_axis": "MajorAxisLength",
    "pca_min_axis": "MinorAxisLength", "pca_least_axis": "LeastAxisLength", "pca_elongation": "Elongation",
    "pca_flatness": "Flatness",
}

Getter = Callable[[dict[str, float]], float]


def _get(name: str) -> Getter:
    return lambda f: float(f[name])


def _excess_kurtosis(prefix: str) -> Getter:
    return lambda f: f[prefix + "Kurtosis"] - 3.0


def _cov(prefix: str) -> Getter:
    return lambda f: math.sqrt(f[prefix + "Variance"]) / f[prefix + "Mean"]


def _build_mapping() -> dict[str, tuple[str, Getter]]:
    """IBSI base tag -> (description of the pyradiomics source, getter over one run's feature dict)."""
    m: dict[str, tuple[str, Getter]] = {}
    for ibsi, pr in _SHAPE.items():
        m[f"morph_{ibsi}"] = (f"shape_{pr}", _get(f"original_shape_{pr}"))
    m["morph_comp_1"] = ("derived: V / (sqrt(pi) A^1.5)", lambda f: f["original_shape_MeshVolume"] / (
        math.sqrt(math.pi) * f["original_shape_SurfaceArea"] ** 1.5))
    m["morph_comp_2"] = ("derived: shape_Sphericity^3", lambda f: f["original_shape_Sphericity"] ** 3)
    m["morph_sph_dispr"] = ("derived: 1 / shape_Sphericity", lambda f: 1.0 / f["original_shape_Sphericity"])
    m["morph_asphericity"] = ("derived: 1 / shape_Sphericity - 1", lambda f: 1.0 / f["original_shape_Sphericity"] - 1)
    m["morph_integ_int"] = ("derived: firstorder_Mean * shape_MeshVolume",
                            lambda f: f["original_firstorder_Mean"] * f["original_shape_MeshVolume"])
    for prefix, run_key in (("stat", "original_firstorder_"), ("ih", "ih_firstorder_")):
        for ibsi, pr in _FIRSTORDER.items():
            m[f"{prefix}_{ibsi}"] = (f"firstorder_{pr}", _get(run_key + pr))
        m[f"{prefix}_kurt"] = ("firstorder_Kurtosis - 3", _excess_kurtosis(run_key))
        m[f"{prefix}_cov"] = ("derived: sqrt(firstorder_Variance) / firstorder_Mean", _cov(run_key))
    m["stat_energy"] = ("firstorder_Energy", _get("original_firstorder_Energy"))
    m["stat_rms"] = ("firstorder_RootMeanSquared", _get("original_firstorder_RootMeanSquared"))
    m["ih_entropy"] = ("firstorder_Entropy", _get("original_firstorder_Entropy"))
    m["ih_uniformity"] = ("firstorder_Uniformity", _get("original_firstorder_Uniformity"))
    for prefix, cls, table in (("cm", "glcm", _GLCM), ("rlm", "glrlm", _GLRLM), ("szm", "glszm", _GLSZM),
                               ("ngt", "ngtdm", _NGTDM), ("ngl", "gldm", _GLDM)):
        for ibsi, pr in table.items():
            m[f"{prefix}_{ibsi}"] = (f"{cls}_{pr}", _get(f"original_{cls}_{pr}"))
    return m


#: IBSI base tag (without aggregation suffix) -> (pyradiomics source, getter)
IBSI_MAPPING = _build_mapping()

#: aggregation suffix -> run variant (force2D, merged directions); None = pyradiomics has no equivalent
_SUFFIX_RUN = {
    "_3D_avg": (False, False), "_3D_comb": (False, True), "_3D": (False, False),
    "_2_5D_avg": (True, False), "_2_5D_comb": (True, True), "_2_5D": (True, False),
    "_2D_avg": None, "_2D_comb": None, "_2D": None,
}
_TEXTURE_PREFIXES = ("cm_", "rlm_", "szm_", "ngt_", "ngl_", "dzm_")


def _split_tag(tag: str) -> tuple[str, tuple[bool, bool] | None, bool]:
    """(base tag, run variant, has a pyradiomics equivalent aggregation)."""
    if tag.startswith(_TEXTURE_PREFIXES):
        for suffix in sorted(_SUFFIX_RUN, key=len, reverse=True):
            if tag.endswith(suffix):
                run = _SUFFIX_RUN[suffix]
                return tag[: -len(suffix)], run, run is not None
        return tag, None, False
    return tag, None, True


def _run(image: sitk.Image, mask: sitk.Image, settings: Settings, force2d: bool | None, merged: bool) -> dict[str, float]:
    from eucaim_lab.radiomics._worker import compute_features, pin_threads

    pin_threads()
    params = copy.deepcopy(settings.params)
    if force2d is not None:
        params["setting"]["force2D"] = force2d
        params["setting"]["force2Ddimension"] = 0
    if merged:
        params["setting"]["weightingNorm"] = "no_weighting"
    params["featureClass"].pop("shape2D", None)  # 3D masks only
    variant = resolve_settings({**params, **({"eucaim_ibsi": _asdict(settings)} if settings.ibsi else {})})
    features, _ = compute_features(image, mask, 1, variant)
    return {k: float(v) for k, v in features.items() if isinstance(v, int | float)}


def _asdict(settings: Settings) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(settings.ibsi) if settings.ibsi else {}


def _discretised(image: sitk.Image, mask: sitk.Image, settings: Settings) -> tuple[sitk.Image, sitk.Image]:
    """The image as pyradiomics discretises it for texture (IBSI processing and re-segmentation applied)."""
    import numpy as np
    import SimpleITK as sitk
    from radiomics import imageoperations

    from eucaim_lab.radiomics._ibsi import bin_edges_from, ibsi_preprocess

    if settings.ibsi is not None:
        image, mask, _ = ibsi_preprocess(image, mask, 1, settings.ibsi)
    s = settings.params["setting"]
    if s.get("resegmentRange") is not None:
        mask = imageoperations.resegmentMask(image, mask, **s)
        if isinstance(mask, tuple):
            mask = mask[0]
    arr = sitk.GetArrayFromImage(image).astype(np.float64)
    roi = sitk.GetArrayFromImage(mask) == 1
    with bin_edges_from(settings.ibsi.bin_lower_bound if settings.ibsi else None):
        binned, _ = imageoperations.binImage(arr, roi, **s)
    out = sitk.GetImageFromArray(np.where(roi, binned, 0).astype(np.float64))
    out.CopyInformation(image)
    m = sitk.GetImageFromArray(roi.astype(np.uint8))
    m.CopyInformation(image)
    return out, m


def ibsi_features(image: sitk.Image, mask: sitk.Image, settings: Settings, tags: list[str]) -> dict[str, float]:
    """Values of the IBSI ``tags`` that pyradiomics can compute (others absent) for ``image`` and ``mask``."""
    import SimpleITK as sitk

    image = sitk.Cast(image, sitk.sitkFloat64)
    mask = sitk.Cast(mask != 0, sitk.sitkUInt8)
    base_2d = bool(settings.params["setting"].get("force2D"))
    runs: dict[tuple[bool, bool], dict[str, float]] = {}
    out: dict[str, float] = {}
    ih: dict[str, float] | None = None
    for tag in tags:
        base, variant, supported = _split_tag(tag)
        if not supported or base not in IBSI_MAPPING:
            continue
        if variant is None:  # morphology, statistics, histogram: one run with the profile's own settings
            variant = (base_2d, False)
        if variant not in runs:
            runs[variant] = _run(image, mask, settings, variant[0], variant[1])
        feats = runs[variant]
        if base.startswith("ih_") and base not in ("ih_entropy", "ih_uniformity"):
            if ih is None:
                d_img, d_mask = _discretised(image, mask, settings)
                plain = resolve_settings({"setting": {"binWidth": 1}, "featureClass": {"firstorder": []}})
                ih = {k.replace("original_", "ih_"): v for k, v in _run(d_img, d_mask, plain, None, False).items()}
            feats = {**feats, **ih}
        try:
            out[tag] = float(IBSI_MAPPING[base][1](feats))
        except (KeyError, ValueError, ZeroDivisionError):
            continue
    return out


def _round_sig(x: float, digits: int = 3) -> float:
    if x == 0 or not math.isfinite(x):
        return x
    return round(x, digits - 1 - math.floor(math.log10(abs(x))))


def _within(value: float, reference: float, tolerance: float) -> bool:
    """IBSI compares values rounded to 3 significant digits; the tolerance applies on top."""
    if not (math.isfinite(value) and math.isfinite(reference)):
        return False
    slack = tolerance + 1e-9 * max(1.0, abs(reference))
    return abs(value - reference) <= slack or abs(_round_sig(value) - reference) <= slack


def read_reference(path: str | os.PathLike[str]) -> pd.DataFrame:
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise NotFoundError(f"Reference table {p} does not exist.")
    ref = pd.read_csv(p, encoding="utf-8-sig")
    missing = {"tag", "reference value", "tolerance"} - set(ref.columns)
    if missing:
        raise InvalidInputError(
            f"A reference table in the IBSI compliance-sheet layout needs columns tag, 'reference value', tolerance. "
            f"Got columns {', '.join(map(str, ref.columns))} in {p}."
        )
    return ref


def ibsi_check(image: str | os.PathLike[str] | sitk.Image, mask: str | os.PathLike[str] | sitk.Image,
               profile: str | os.PathLike[str] | dict[str, Any] | Settings,
               reference_csv: str | os.PathLike[str], out_csv: str | os.PathLike[str] | None = None
               ) -> pd.DataFrame:
    """Compare features of ``image``/``mask`` (region: every non-zero voxel) under ``profile`` with a reference.

    Returns (and writes to ``out_csv`` when given) one row per reference tag: ``tag``, ``family``, ``feature``,
    ``pyradiomics`` (the source of the value or 'unmapped'), ``value``, ``reference``, ``tolerance``, ``within``
    (True/False; empty where unmapped or without a reference value). ``attrs``: ``within``, ``compared``, ``mapped``,
    ``total``.
    """
    import pandas as pd
    import SimpleITK as sitk

    def load(x: Any, what: str) -> sitk.Image:
        if isinstance(x, sitk.Image):
            return x
        if not Path(x).is_file():
            raise NotFoundError(f"The {what} file {x} does not exist.")
        return sitk.ReadImage(str(x))

    img, msk = load(image, "image"), load(mask, "mask")
    settings = resolve_settings(profile)
    ref = read_reference(reference_csv)
    tags = [str(t) for t in ref["tag"]]
    values = ibsi_features(img, msk, settings, tags)
    rows = []
    for _, r in ref.iterrows():
        tag = str(r["tag"])
        reference = pd.to_numeric(pd.Series([r["reference value"]]), errors="coerce").iloc[0]
        tolerance = pd.to_numeric(pd.Series([r["tolerance"]]), errors="coerce").iloc[0]
        value = values.get(tag, math.nan)
        mapped = tag in values
        within: bool | None = None
        if mapped and pd.notna(reference):
            within = _within(value, float(reference), float(tolerance) if pd.notna(tolerance) else 0.0)
        rows.append({
            "tag": tag, "family": r.get("family"), "feature": r.get("feature"),
            "pyradiomics": IBSI_MAPPING[_split_tag(tag)[0]][0] if mapped else "unmapped",
            "value": value, "reference": reference, "tolerance": tolerance, "within": within,
        })
    out = pd.DataFrame(rows)
    compared = out["within"].notna()
    out.attrs.update(within=int(out.loc[compared, "within"].astype(bool).sum()), compared=int(compared.sum()),
                     mapped=int((out["pyradiomics"] != "unmapped").sum()),
                     total=int(pd.to_numeric(out["reference"], errors="coerce").notna().sum()))
    if out_csv is not None:
        Path(out_csv).parent.mkdir(parents=True, exist_ok=True)
        out.to_csv(out_csv, index=False)
    return out
