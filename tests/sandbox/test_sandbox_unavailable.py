"""Fail closed: without a working bubblewrap the sandboxed kernel does not start, and the error says why."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from sandbox.sandbox_helpers import sandbox_setup

from eucaim_lab._errors import SandboxUnavailableError

pytestmark = [pytest.mark.sandbox, pytest.mark.timeout(60)]


def _start(kernel_name: str, config=None):
    from jupyter_client import KernelManager

    km = KernelManager(kernel_name=kernel_name, config=config) if config else KernelManager(kernel_name=kernel_name)
    with pytest.raises(SandboxUnavailableError) as info:
        km.start_kernel()
    assert not km.has_kernel
    return info.value


def _no_kernel_started(setup) -> None:
    from eucaim_lab.access import AuditTrail

    trail = AuditTrail(setup.home)
    try:
        assert trail.entries(actions=["kernel.start"]) == []
    finally:
        trail.node.close()


def test_missing_bwrap_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with sandbox_setup(tmp_path) as setup:
        empty = tmp_path / "empty-bin"
        empty.mkdir()
        monkeypatch.setenv("PATH", str(empty))
        error = _start(setup.kernel_name)
        assert "bubblewrap" in error.message and "not found" in error.message
        assert "apt-get install bubblewrap" in error.message
        _no_kernel_started(setup)


def test_configured_bwrap_does_not_exist(tmp_path: Path) -> None:
    from traitlets.config import Config

    with sandbox_setup(tmp_path) as setup:
        config = Config({"SandboxProvisioner": {"bwrap": str(tmp_path / "no" / "bwrap")}})
        error = _start(setup.kernel_name, config)
        assert str(tmp_path / "no" / "bwrap") in error.message
        _no_kernel_started(setup)


def test_bwrap_without_user_namespaces(tmp_path: Path) -> None:
    """A bubblewrap that cannot create namespaces (what a machine without user namespaces gives)."""
    from traitlets.config import Config

    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    with sandbox_setup(tmp_path) as setup:
        error = _start(setup.kernel_name, Config({"SandboxProvisioner": {"bwrap": str(fake)}}))
        assert "No permissions to create new namespace" in error.message
        assert "user namespaces" in error.message
        _no_kernel_started(setup)
