"""Kernelspecs for checkouts: ``eucaim-lab kernel install|list|remove`` and the limits they carry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sandbox.sandbox_helpers import make_checkout

from eucaim_lab._errors import InvalidInputError
from eucaim_lab.cli import main
from eucaim_lab.sandbox import SandboxLimits


@pytest.fixture()
def jupyter_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "jupyter-data"
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(data))
    return data


def test_install_list_remove_from_the_command_line(node_home: Path, jupyter_data: Path, capsys) -> None:
    make_checkout(node_home, "co-7", "lung-ct", {"a.dcm": b"x"})
    assert main(["kernel", "install", "co-7", "--json", "--memory", "2GiB", "--processes", "128"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["kernel_name"] == "eucaim-co-7"
    assert out["display_name"] == "EUCAIM lung-ct (sandboxed)"

    spec = json.loads((jupyter_data / "kernels" / "eucaim-co-7" / "kernel.json").read_text())
    assert spec["interrupt_mode"] == "message"
    assert spec["argv"][1:] == ["-m", "ipykernel_launcher", "-f", "{connection_file}"]
    provisioner = spec["metadata"]["kernel_provisioner"]
    assert provisioner["provisioner_name"] == "eucaim-sandbox"
    config = provisioner["config"]
    assert config["checkout"] == str((node_home / "checkouts" / "co-7").resolve())
    assert config["workspace"] == str((node_home / "workspaces" / "co-7").resolve())
    assert (node_home / "workspaces" / "co-7").is_dir()
    assert config["dataset_ids"] == ["lung-ct"] and config["checkout_id"] == "co-7"
    assert config["limits"] == {"memory": 2 * 1024**3, "processes": 128, "cpu_seconds": None}

    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.provisioning import KernelProvisionerFactory

    ks = KernelSpecManager().get_kernel_spec("eucaim-co-7")
    assert KernelProvisionerFactory.instance().is_provisioner_available(ks)

    assert main(["kernel", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [k["kernel_name"] for k in listed] == ["eucaim-co-7"]

    assert main(["kernel", "remove", "eucaim-co-7"]) == 0
    assert not (jupyter_data / "kernels" / "eucaim-co-7").exists()
    assert main(["kernel", "remove", "eucaim-co-7"]) == 1
    assert "No sandboxed kernelspec" in capsys.readouterr().err


@pytest.mark.parametrize("bad", ["../co-1", "/etc", "co 1", "co-1/..", ""])
def test_install_refuses_odd_ids(node_home: Path, jupyter_data: Path, capsys, bad: str) -> None:
    assert main(["kernel", "install", bad]) == 1
    assert "checkout id" in capsys.readouterr().err
    assert not (jupyter_data / "kernels").exists()


def test_install_of_an_unknown_checkout_fails(node_home: Path, jupyter_data: Path, capsys) -> None:
    assert main(["kernel", "install", "co-404"]) == 1
    err = capsys.readouterr().err
    assert "No checkout 'co-404'" in err and err.count("\n") == 1


def test_bad_limits_are_refused(node_home: Path, jupyter_data: Path, capsys) -> None:
    make_checkout(node_home, "co-8", "ds", {"a": b"x"})
    assert main(["kernel", "install", "co-8", "--memory", "lots"]) == 1
    assert "Got 'lots'" in capsys.readouterr().err
    assert not (jupyter_data / "kernels").exists()


def test_limits_parse_sizes_and_refuse_nonsense() -> None:
    assert SandboxLimits(memory="4GiB").memory == 4 * 1024**3
    assert SandboxLimits(memory="512m").memory == 512 * 1024**2
    assert SandboxLimits.from_mapping({"processes": 64}).processes == 64
    with pytest.raises(InvalidInputError, match="at least 64 MiB"):
        SandboxLimits(memory=1000)
    with pytest.raises(InvalidInputError, match="Unknown sandbox limit"):
        SandboxLimits.from_mapping({"memroy": "1GiB"})
    with pytest.raises(InvalidInputError, match="process limit"):
        SandboxLimits(processes=True)
    with pytest.raises(InvalidInputError, match="CPU time"):
        SandboxLimits(cpu_seconds=0)
