"""The server processes of `taktline serve` and `up`: uvicorn, one process per worker, each
listening on a socket of its own.

uvicorn's own supervisor hands one shared socket to every worker, and each worker's event
loop accepts every connection waiting when it wakes: a burst of keep-alive clients (a
shift's terminals starting at once, a proxy's connection pool) lands on one worker while
the others idle (issue 8 measured 31 of 32 connections on one of two workers). Here every
worker binds its own socket with SO_REUSEPORT, and the kernel spreads new connections over
them by their addresses. Where SO_REUSEPORT is missing, uvicorn's supervisor serves.

Each worker loads the application, then freezes what start-up allocated (`gc.freeze`): the
routes, models and mappers live as long as the process, and the garbage collector no longer
walks them on every full collection of a request's garbage.
"""

import contextlib
import gc
import multiprocessing
import signal
import socket
import threading
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE

APP = "taktline.app:create_app"
# How often the supervisor looks whether a worker has died (and starts another).
WATCH_SECONDS = 0.5


def run(*, host: str, port: int, workers: int, **options: Any) -> None:
    """Serves the application on host:port in `workers` processes until SIGINT or SIGTERM."""
    config = uvicorn.Config(APP, factory=True, host=host, port=port, workers=workers, **options)
    if workers == 1:
        _serve(config, None)
    elif not hasattr(socket, "SO_REUSEPORT"):
        uvicorn.run(APP, factory=True, host=host, port=port, workers=workers, **options)
    else:
        _supervise(config)


def _socket(config: uvicorn.Config, *, shared: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if shared:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((config.host, config.port))
    return sock


def _listen(config: uvicorn.Config) -> socket.socket:
    sock = _socket(config, shared=True)
    sock.listen(config.backlog)
    return sock


# The cyclic garbage collector's thresholds in a server process: a young generation of
# 50,000 objects instead of 700, and each older one collected after 20 of the younger
# instead of 10. A request allocates tens of thousands of objects; with CPython's defaults
# every few requests paid for a collection of the older generations, 15 ms or more, and
# one list request in ten took twice its median (bench/api_scale.py). Cyclic garbage waits
# a little longer for its collection: a few megabytes.
COLLECTOR_THRESHOLDS = (50_000, 20, 20)


def tune_collector() -> None:
    """What start-up allocated lives as long as the process: out of the collector's sight;
    and the collector's thresholds for serving (`COLLECTOR_THRESHOLDS`). The benchmarks
    that run the application in process do the same."""
    gc.freeze()
    gc.set_threshold(*COLLECTOR_THRESHOLDS)


def _serve(config: uvicorn.Config, sock: socket.socket | None) -> None:
    config.load()
    tune_collector()
    server = uvicorn.Server(config)
    server.run(sockets=[sock] if sock is not None else None)
    if not server.started:
        raise SystemExit(STARTUP_FAILURE)


def _worker(config: uvicorn.Config) -> None:
    config.configure_logging()
    try:
        sock = _listen(config)
    except OSError as exc:
        print(f"Cannot listen on {config.host}:{config.port}: {exc}", flush=True)
        raise SystemExit(STARTUP_FAILURE) from None
    # Ctrl+C reaches the whole process group; the supervisor stops the workers itself.
    with contextlib.suppress(KeyboardInterrupt):
        _serve(config, sock)


def _supervise(config: uvicorn.Config) -> None:
    """Starts the workers, starts another for each one that dies, and on SIGINT or SIGTERM
    stops them all (SIGTERM: uvicorn finishes the requests under way)."""
    # The port must be free, as for a single socket: SO_REUSEPORT alone would let a second
    # server on the same port quietly share its connections with this one.
    try:
        _socket(config, shared=False).close()
    except OSError as exc:
        print(f"Cannot listen on {config.host}:{config.port}: {exc}", flush=True)
        raise SystemExit(STARTUP_FAILURE) from None
    spawn = multiprocessing.get_context("spawn")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())

    def start() -> Any:
        process = spawn.Process(target=_worker, args=(config,), name="taktline-worker")
        process.start()
        return process

    processes = [start() for _ in range(config.workers)]
    failed = False
    while not stop.wait(WATCH_SECONDS):
        for index, process in enumerate(processes):
            if process.is_alive():
                continue
            process.join()
            if process.exitcode == STARTUP_FAILURE:
                # It could not start (the socket, the database URL, the app): so would the next.
                failed = True
                stop.set()
                break
            processes[index] = start()
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join()
    if failed:
        raise SystemExit(STARTUP_FAILURE)
