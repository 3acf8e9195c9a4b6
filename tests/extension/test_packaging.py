"""The Python package ships the built front end it declares, at its own version, and enables itself."""

from __future__ import annotations

import json
from pathlib import Path

import eucaim_jupyterlab

EXTENSION = Path(__file__).resolve().parents[2] / "extensions" / "eucaim-jupyterlab"


def test_labextension_paths_point_at_a_build_of_this_version() -> None:
    [entry] = eucaim_jupyterlab._jupyter_labextension_paths()
    built = Path(eucaim_jupyterlab.__file__).parent / entry["src"]
    package = json.loads((built / "package.json").read_text())
    assert package["name"] == entry["dest"] == "eucaim-jupyterlab"
    assert package["version"] == eucaim_jupyterlab.__version__
    remote = package["jupyterlab"]["_build"]["load"]
    assert (built / remote).is_file()
    schema = json.loads((built / "schemas" / "eucaim-jupyterlab" / "plugin.json").read_text())
    # every setting is documented
    assert schema["properties"] and all(p.get("description") for p in schema["properties"].values())


def test_server_config_enables_the_server_extension() -> None:
    config = json.loads((EXTENSION / "jupyter-config" / "server-config" / "eucaim_jupyterlab.json").read_text())
    assert config["ServerApp"]["jpserver_extensions"] == {"eucaim_jupyterlab": True}
    [point] = eucaim_jupyterlab._jupyter_server_extension_points()
    assert point["module"] == "eucaim_jupyterlab"
