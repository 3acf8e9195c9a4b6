"""Extraction settings: named profiles, pyradiomics YAML files or dicts, resolved once into :class:`Settings`.

A profile is a pyradiomics parameter file (``imageType``, ``featureClass``, ``setting``) shipped in ``profiles/``,
optionally with an ``eucaim_ibsi`` section: the image processing that pyradiomics does differently from the IBSI
reference manual and that we do ourselves before calling pyradiomics (see :mod:`eucaim_lab.radiomics._ibsi`).
The settings digest is computed from the *effective* pyradiomics settings (after pyradiomics filled in its
defaults), so ``"default"``, an empty dict and an empty YAML file share one digest and one cache.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from eucaim_lab._errors import InvalidInputError

__all__ = ["PROFILES", "IbsiProcessing", "Settings", "resolve_settings"]

PROFILES = ("default", "ibsi-A", "ibsi-B", "ibsi-C", "ibsi-D", "ibsi-E", "ibsi-phantom")

#: bump when our own processing around pyradiomics changes in a way that changes results
PIPELINE_VERSION = 1

_IBSI_KEY = "eucaim_ibsi"


@dataclass(frozen=True)
class IbsiProcessing:
    """Image processing done the IBSI way before pyradiomics runs (resampling off in pyradiomics).

    ``spacing``: target voxel spacing (x, y, z) in mm, ``None`` for an axis keeps it (2D in-plane resampling); ``None``
    altogether means no interpolation. ``interpolator``: image interpolation (``linear`` or ``bspline`` = cubic).
    ``round_intensities``: round interpolated intensities to integers (CT). ``mask_threshold``: the mask is
    interpolated linearly and kept where >= this value. ``pre_resegment_range``: intensity range applied to the
    mask before pyradiomics (used when a configuration needs two re-segmentation steps). ``bin_lower_bound``: fixed
    bin size edges start at this value (the re-segmentation lower bound) instead of at the ROI minimum.
    """

    spacing: tuple[float | None, float | None, float | None] | None = None
    interpolator: Literal["linear", "bspline"] = "linear"
    round_intensities: bool = False
    mask_threshold: float = 0.5
    pre_resegment_range: tuple[float, float] | None = None
    bin_lower_bound: float | None = None

    def __post_init__(self) -> None:
        if self.spacing is not None:
            sp = tuple(self.spacing)
            if len(sp) != 3 or any(s is not None and not (float(s) > 0) for s in sp):
                raise InvalidInputError(f"eucaim_ibsi.spacing must be 3 values > 0 or null. Got {self.spacing!r}.")
            object.__setattr__(self, "spacing", tuple(None if s is None else float(s) for s in sp))
        if self.interpolator not in ("linear", "bspline"):
            raise InvalidInputError(
                f"eucaim_ibsi.interpolator must be 'linear' or 'bspline'. Got {self.interpolator!r}."
            )
        if not 0.0 < float(self.mask_threshold) <= 1.0:
            raise InvalidInputError(f"eucaim_ibsi.mask_threshold must be in (0, 1]. Got {self.mask_threshold!r}.")
        if self.pre_resegment_range is not None:
            lo, hi = (float(v) for v in self.pre_resegment_range)
            if not lo < hi:
                raise InvalidInputError(
                    f"eucaim_ibsi.pre_resegment_range must be [low, high] with low < high. Got {self.pre_resegment_range!r}."
                )
            object.__setattr__(self, "pre_resegment_range", (lo, hi))

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> IbsiProcessing:
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidInputError(
                f"Unknown eucaim_ibsi setting(s) {', '.join(unknown)}; expected some of {', '.join(sorted(known))}."
            )
        return cls(**data)


@dataclass(frozen=True)
class Settings:
    """Resolved extraction settings: effective pyradiomics parameters, optional IBSI processing, and their digest."""

    name: str
    params: dict[str, Any] = field(compare=False)
    ibsi: IbsiProcessing | None
    digest: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "params": self.params, "ibsi": asdict(self.ibsi) if self.ibsi else None,
                "digest": self.digest}


def _load_yaml(path: Path) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidInputError(f"Cannot read the parameter file {path}: {exc}.") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InvalidInputError(f"A pyradiomics parameter file holds a mapping. Got {type(data).__name__} in {path}.")
    return data


def _profile_text(name: str) -> Path:
    return Path(str(resources.files("eucaim_lab.radiomics") / "profiles" / f"{name}.yaml"))


def resolve_settings(params: str | os.PathLike[str] | dict[str, Any] | Settings = "default") -> Settings:
    """Turn a profile name, a pyradiomics YAML path or a parameter dict into :class:`Settings`.

    Raises :class:`InvalidInputError` for an unknown profile, an unreadable file or settings pyradiomics rejects.
    """
    if isinstance(params, Settings):
        return params
    if isinstance(params, dict):
        name, raw = "custom", copy.deepcopy(params)
    elif isinstance(params, str) and params in PROFILES:
        name, raw = params, _load_yaml(_profile_text(params))
    elif isinstance(params, str | os.PathLike) and Path(params).is_file():
        name, raw = str(params), _load_yaml(Path(params))
    else:
        raise InvalidInputError(
            f"params must be a profile name ({', '.join(PROFILES)}), a pyradiomics YAML file or a dict. Got {params!r}."
        )
    ibsi_raw = raw.pop(_IBSI_KEY, None)
    ibsi = None
    if ibsi_raw is not None:
        if not isinstance(ibsi_raw, dict):
            raise InvalidInputError(f"'{_IBSI_KEY}' must be a mapping. Got {type(ibsi_raw).__name__}.")
        ibsi = IbsiProcessing.from_mapping(ibsi_raw)
    effective = effective_params(raw)
    if ibsi is not None and effective["setting"].get("resampledPixelSpacing"):
        raise InvalidInputError(
            "IBSI processing resamples the image itself: remove setting.resampledPixelSpacing. "
            f"Got {effective['setting']['resampledPixelSpacing']!r}."
        )
    payload = {"pipeline": PIPELINE_VERSION, "params": effective, "ibsi": asdict(ibsi) if ibsi else None}
    digest = hashlib.sha3_256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()
    return Settings(name=name, params=effective, ibsi=ibsi, digest=digest)


def effective_params(raw: dict[str, Any]) -> dict[str, Any]:
    """pyradiomics' view of ``raw`` after validation and defaults: ``imageType``, ``featureClass``, ``setting``."""
    import logging

    from radiomics.featureextractor import RadiomicsFeatureExtractor

    logging.getLogger("radiomics").setLevel(logging.ERROR)
    logging.getLogger("pykwalify").setLevel(logging.CRITICAL)
    try:
        extractor = RadiomicsFeatureExtractor(copy.deepcopy(raw))
    except Exception as exc:  # pykwalify's SchemaError and pyradiomics' ValueError: both mean a bad parameter set
        text = " ".join(str(exc).split()) or type(exc).__name__
        text = text.split("All found errors ---", 1)[-1].strip(" []")
        raise InvalidInputError(f"pyradiomics rejects the parameters: {text}") from exc
    # None and [] both mean "every feature of the class": store one spelling so equal settings share a digest
    features = {k: sorted(v) if v else [] for k, v in sorted(extractor.enabledFeatures.items())}
    return {
        "imageType": {k: copy.deepcopy(v) for k, v in sorted(extractor.enabledImagetypes.items())},
        "featureClass": features,
        "setting": copy.deepcopy(extractor.settings),
    }
