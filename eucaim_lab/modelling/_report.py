"""The model card: one self-contained HTML file (figures embedded as PNG) describing an evaluation."""

from __future__ import annotations

import base64
import html
import io
import json
import platform
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from ._checklists import AUTHORS, clear_items, tripod_ai_items

__all__ = ["provenance_from_checkout", "software_versions", "write_model_card"]

_PACKAGES = ("eucaim-lab", "numpy", "pandas", "scipy", "scikit-learn", "joblib", "matplotlib", "pyradiomics",
             "SimpleITK", "dask", "distributed")

_NO_PROVENANCE = "not given: pass provenance={'checkout_id': ..., 'manifest_digest': ..., 'dataset_ids': [...]}"

_CSS = """
body{font-family:system-ui,Arial,sans-serif;max-width:1000px;margin:2em auto;color:#222;line-height:1.4}
h1{border-bottom:2px solid #345;padding-bottom:.2em}h2{color:#345;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}td,th{border:1px solid #bbb;padding:3px 7px;
text-align:left;vertical-align:top}th{background:#eef}.todo{color:#888;font-style:italic}
.figs img{max-width:48%;margin:1%}pre{background:#f6f6f6;padding:.8em;overflow-x:auto;font-size:.85em}
"""


def software_versions() -> dict[str, str]:
    """Versions of Python, the platform and the packages that shaped a result."""
    versions = {"python": platform.python_version(), "platform": platform.platform()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def provenance_from_checkout(folder: str | Path) -> dict[str, Any]:
    """Provenance fields for a model card from a checkout folder's ``manifest.json``.

    Returns the checkout, dataset, version, request and permit ids, the dataset digest recorded at checkout and the
    SHA3-256 of the manifest itself (so the card pins the exact file list and hashes used).
    """
    import hashlib

    from .._errors import InvalidInputError, NotFoundError

    manifest_path = Path(folder) / "manifest.json"
    if not manifest_path.is_file():
        raise NotFoundError(f"No manifest.json in {str(folder)!r}; expected a checkout folder.")
    raw = manifest_path.read_bytes()
    try:
        manifest = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"{manifest_path} is not valid JSON ({exc}).") from exc
    fields = ("checkout_id", "dataset_id", "version", "request_id", "permit_id", "user", "access_condition",
              "created", "dataset_digest")
    out: dict[str, Any] = {k: manifest[k] for k in fields if k in manifest}
    if "dataset_id" in out:
        out["dataset_ids"] = [out.pop("dataset_id")]
    out["manifest_digest"] = "sha3-256:" + hashlib.sha3_256(raw).hexdigest()
    out["n_files"] = len(manifest.get("files", {}))
    return out


def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _table(rows: list[tuple[Any, ...]], header: tuple[str, ...]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = []
        for value in row:
            text = html.escape(str(value))
            cells.append(f'<td class="todo">{text}</td>' if value == AUTHORS else f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def write_model_card(result: Any, path: Path, *, provenance: dict[str, Any], title: str | None = None,
                     code: str | None = None, model_sha256: str | None = None) -> Path:
    """Write the HTML model card of ``result`` to ``path``."""
    s = result.settings
    prov = dict(provenance)
    title = title or f"Model card: {s.get('outcome') or 'binary outcome'}"
    metrics_rows = [(name, f"{row['estimate']:.3f}", f"{row['ci_low']:.3f}", f"{row['ci_high']:.3f}")
                    for name, row in result.metrics.iterrows()]
    p_value = ("not computed" if result.permutation_p_value is None
               else f"{result.permutation_p_value:.4g} ({s['n_permutations']} label permutations)")
    figures = [result.plot_roc(), result.plot_calibration(), result.plot_decision_curve(),
               result.plot_feature_importance()]
    images = "".join(f'<img alt="figure" src="data:image/png;base64,{_png(fig)}">' for fig in figures)
    fold_columns = [c for c in ("repeat", "fold", "n_train", "n_test", "n_patients_test", "n_positive_test",
                                "sites_test", "auc", "best_params") if c in result.folds.columns]
    fold_rows = [tuple(_short(row[c]) for c in fold_columns) for _, row in result.folds.iterrows()]
    design_text = (
        "Leave-one-site-out: each site in turn is held out and predicted by a pipeline fitted on the others."
        if s["design"] == "loso" else
        f"{s['cv']}-fold cross-validation stratified by outcome and grouped by patient (no patient in both "
        f"training and test rows of any fold), repeated {s['n_repeats']} time(s)."
    )
    if s["nested"]:
        design_text += (f" Hyper-parameters were tuned inside each outer training fold by a {s['inner_cv']}-fold "
                        "inner cross-validation, also grouped by patient (nested cross-validation).")
    design_text += (" Every step of the pipeline (harmonisation, filters, selection, scaling, model) was fitted on "
                    "the training rows of each fold only. Metrics are computed on out-of-fold predictions; 95% "
                    f"confidence intervals come from {s['n_bootstrap']} bootstrap resamples of patients.")
    settings_rows = [(k, json.dumps(v, default=str) if not isinstance(v, str) else v)
                     for k, v in s.items() if k not in ("feature_names",)]
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>Generated {datetime.now(timezone.utc).isoformat(timespec='seconds')} by eucaim-lab.</p>",
        "<h2 id='provenance'>Data provenance</h2>",
        _table([(k, json.dumps(v, default=str) if not isinstance(v, str) else v) for k, v in prov.items()]
               or [("provenance", _NO_PROVENANCE)], ("field", "value")),
        "<h2 id='software'>Software</h2>", _table(list(software_versions().items()), ("package", "version")),
        "<h2 id='validation'>Validation design</h2>", f"<p>{html.escape(design_text)}</p>",
        "<h2 id='metrics'>Metrics</h2>",
        _table(metrics_rows, ("metric", "estimate", "95% CI low", "95% CI high")),
        (f"<p>Permutation test of the AUC: p = {html.escape(p_value)}. Threshold for sensitivity/specificity: "
         f"{s['threshold']}.</p>"),
        f"<div class='figs'>{images}</div>",
        "<h2 id='folds'>Per-fold details</h2>", _table(fold_rows, tuple(fold_columns)),
        "<h2 id='settings'>Settings</h2>", _table(settings_rows, ("setting", "value")),
        "<h2 id='clear'>CLEAR checklist (CheckList for EvaluAtion of Radiomics research)</h2>",
        "<p>Items filled by software from this run; the others are " + AUTHORS + ".</p>",
        _table(clear_items(result, prov, code_shared=code is not None, model_sha256=model_sha256),
               ("item", "title", "value")),
        "<h2 id='tripod-ai'>TRIPOD+AI checklist</h2>",
        ("<p>Main items (sub-items grouped); items filled by software from this run, the others are "
         + AUTHORS + ".</p>"),
        _table(tripod_ai_items(result, prov, code_shared=code is not None, model_sha256=model_sha256),
               ("item", "title", "value")),
    ]
    if code is not None:
        parts += ["<h2 id='code'>Code that reproduces this run</h2>", f"<pre>{html.escape(code)}</pre>"]
    parts.append("</body></html>")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return "" if value is None else str(value)
