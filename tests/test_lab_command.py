"""``eucaim-lab lab`` starts the real JupyterLab with the extension on the local node."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_lab_serves_the_extension_on_the_node(tmp_path):
    pytest.importorskip("eucaim_jupyterlab", reason="the extension is built by 'make extension' (make test does it)")
    port = _free_port()
    env = {**os.environ, "EUCAIM_LAB_HOME": str(tmp_path / "node"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt"),
           "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "eucaim_lab.cli", "lab", "--root", str(tmp_path), "--port", str(port),
         "--no-browser", "--", "--ServerApp.token=t0k3n"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    try:
        deadline = time.time() + 60
        body = None
        while time.time() < deadline and body is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/eucaim/version?token=t0k3n", timeout=2) as r:
                    body = json.loads(r.read())
            except (urllib.error.URLError, ConnectionError):
                if proc.poll() is not None:
                    pytest.fail("jupyter lab exited: " + proc.stdout.read()[-2000:])
                time.sleep(0.5)
        assert body is not None, "the server did not answer within 60 s"
        assert re.match(r"\d+\.\d+", body["version"])
        # the same route without the token is refused
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/eucaim/version", timeout=5)
        assert err.value.code in (401, 403)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
