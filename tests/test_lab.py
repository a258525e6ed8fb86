"""`make lab` serves the whole course, as root or not: an exercise notebook is reachable over HTTP."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "dcgan-course-test"
STARTUP_SECONDS = 90


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fetch_json(url: str) -> dict | None:
    """The JSON at ``url``, or None while the server is not up yet."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.loads(response.read())
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


@pytest.mark.skipif(shutil.which("make") is None or not (ROOT / ".venv" / "bin" / "jupyter").exists(),
                    reason="needs make and the .venv that `make install` creates")
def test_make_lab_serves_the_exercises_from_the_repository_root() -> None:
    port = free_port()
    options = f"--no-browser --ip=127.0.0.1 --port={port} --IdentityProvider.token={TOKEN}"
    server = subprocess.Popen(["make", "--no-print-directory", "lab", f"LAB_OPTIONS={options}"], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              start_new_session=True, env={**os.environ, "PYTEST_ADDOPTS": ""})
    url = f"http://127.0.0.1:{port}/api/contents/exercises/01_generator.ipynb?token={TOKEN}"
    try:
        deadline, notebook = time.monotonic() + STARTUP_SECONDS, None
        while notebook is None and time.monotonic() < deadline and server.poll() is None:
            time.sleep(1.0)
            notebook = fetch_json(url)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        log, _ = server.communicate(timeout=30)
    assert notebook is not None, f"JupyterLab did not serve the exercise; its log:\n{log[-3000:]}"
    assert notebook["type"] == "notebook"
    assert notebook["path"] == "exercises/01_generator.ipynb"
    assert any("check" in cell.get("metadata", {}).get("tags", []) for cell in notebook["content"]["cells"])
