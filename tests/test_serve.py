"""`taktline serve --workers N`: several server processes on one database, over real HTTP."""

import http.client
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


def _established_by_process(pids: list[int], port: int) -> dict[int, int]:
    """How many established TCP connections to `port` each process holds (from /proc)."""
    inodes: dict[str, int] = {}
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes[target[8:-1]] = pid
    held = dict.fromkeys(pids, 0)
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port, state, inode = int(fields[1].rsplit(":", 1)[1], 16), fields[3], fields[9]
        if local_port == port and state == "01" and inode in inodes:  # 01: ESTABLISHED
            held[inodes[inode]] += 1
    return held


def _serve(url: str, port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(TAKTLINE), "serve", "--port", str(port), "--workers", "2"],
        env={**os.environ, "TAKTLINE_DATABASE_URL": url},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _answering(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("the server did not answer")


def _stop(server: subprocess.Popen[str]) -> str:
    server.send_signal(signal.SIGINT)
    try:
        return server.communicate(timeout=30)[0]
    except subprocess.TimeoutExpired:
        server.kill()
        return server.communicate()[0]


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads connections in /proc")
def test_a_burst_of_keep_alive_clients_is_spread_over_the_workers(tmp_path: Path) -> None:
    """Each worker listens on a socket of its own, and the kernel spreads new connections
    over them: 64 clients connecting at once do not all land on one worker (with one shared
    socket, the first worker to wake took 31 of 32)."""
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    migrate.upgrade(url)
    port = _free_port()
    server = _serve(url, port)
    clients: list[http.client.HTTPConnection] = []
    try:
        _answering(port)
        deadline = time.monotonic() + 30
        while len(workers := _children(server.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        clients = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(64)]
        for client in clients:
            client.connect()
        for client in clients:
            client.request("GET", "/api/v1/health")
            client.getresponse().read()
        held = _established_by_process([*workers, server.pid], port)
    finally:
        for client in clients:
            client.close()
        _stop(server)
    assert held.get(server.pid) == 0, held
    assert sum(held.values()) == 64, held
    # evenly by the addresses' hash: fewer than 16 of 64 on either is a chance of 1 in 10^4
    assert all(held[w] >= 16 for w in workers if held[w]), held
    assert len([w for w in workers if held[w]]) == 2, held


def test_a_second_server_on_a_port_in_use_stops_instead_of_sharing_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    migrate.upgrade(url)
    port = _free_port()
    first = _serve(url, port)
    try:
        _answering(port)
        second = _serve(url, port)
        try:
            output, _ = second.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            second.kill()
            output = second.communicate()[0]
            raise AssertionError(f"the second server kept running: {output}") from None
        assert second.returncode != 0
        assert f"Cannot listen on 127.0.0.1:{port}" in output
    finally:
        _stop(first)
