"""`taktline serve --workers N`: several server processes on one database, over real HTTP."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from taktline import migrate

TAKTLINE = Path(sys.executable).with_name("taktline")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="counts processes in /proc")
def test_serve_runs_the_workers_it_is_asked_for_and_they_all_answer(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    migrate.upgrade(url)
    port = _free_port()
    server = subprocess.Popen(
        [str(TAKTLINE), "serve", "--port", str(port), "--workers", "2"],
        env={**os.environ, "TAKTLINE_DATABASE_URL": url},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        workers: list[int] = []
        while time.monotonic() < deadline:
            try:
                answered = httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2)
            except httpx.HTTPError:
                time.sleep(0.2)
                continue
            # uvicorn's supervisor starts the workers; each one answers on the shared socket
            workers = [c for c in _children(server.pid) if Path(f"/proc/{c}/cmdline").exists()]
            if answered.status_code == 200 and len(workers) >= 2:
                break
            time.sleep(0.2)
        assert answered.status_code == 200
        assert answered.json()["database"] == "ok"
        assert len(workers) >= 2, workers
    finally:
        server.send_signal(signal.SIGINT)
        try:
            output, _ = server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            output, _ = server.communicate()
    assert "Serving with 2 worker processes." in output
