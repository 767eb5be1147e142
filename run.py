#!/usr/bin/env python3
"""Set up and run Taktline on a machine that has only Python 3.11+ (standard library only).

    python3 run.py portal [taktline up options]   set up, migrate, load the demo, serve
    python3 run.py test [pytest options]          set up and run the test suite

Setting up means: create .venv next to this file if it is missing, and `pip install -e .[dev]`
into it whenever pyproject.toml has changed since the last install (a stamp in .venv says).

The tests run on every core (pytest-xdist, a file's tests on one worker, each worker with
databases of its own) unless the options say otherwise (`-n 0` runs them in this process).
"""

# Lets an older Python read this file far enough to say that it is too old.
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".taktline-installed"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
USAGE = __doc__.split("\n\n")[1] if __doc__ else ""


def _say(message: str) -> None:
    print(f"run.py: {message}", file=sys.stderr, flush=True)


def _wanted_stamp() -> str:
    # The venv is tied to this checkout's path (its scripts name it) and to the dependencies.
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    return f"{ROOT}\n{digest}\n"


def _create_venv() -> None:
    if VENV.exists():
        _say(f"{VENV} belongs to another checkout or is broken: recreating it")
        shutil.rmtree(VENV)
    _say(f"creating {VENV}")
    try:
        venv.create(VENV, with_pip=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        sys.exit(
            f"run.py: could not create {VENV} ({exc}). On Debian or Ubuntu, install the "
            "python3-venv package and try again."
        )


def ensure_environment() -> None:
    """A .venv with Taktline and its development tools installed, as pyproject.toml says."""
    stamp = STAMP.read_text() if STAMP.exists() else None
    wanted = _wanted_stamp()
    if not PYTHON.exists() or (stamp is not None and stamp.split("\n", 1)[0] != str(ROOT)):
        _create_venv()
        stamp = None
    if stamp == wanted:
        return
    _say("installing Taktline and its dependencies into .venv (pip install -e .[dev])")
    result = subprocess.run(
        [
            str(PYTHON),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-input",
            "--disable-pip-version-check",
            "--editable",
            ".[dev]",
        ],
        cwd=ROOT,
        check=False,
    )
    if result.returncode != 0:
        sys.exit(f"run.py: pip install failed (exit code {result.returncode}); see above.")
    STAMP.write_text(wanted)


def _run(program: Path, args: list[str]) -> None:
    """Replaces this process with `program`, so that signals and the exit code are its own."""
    argv = [str(program), *args]
    if os.name == "nt":  # no real exec on Windows
        sys.exit(subprocess.run(argv, check=False).returncode)
    os.execv(argv[0], argv)


def _on_every_core(args: list[str]) -> list[str]:
    """pytest's options, spread over every core unless they choose (-n, --numprocesses)."""
    if any(a.startswith(("-n", "--numprocesses")) for a in args):
        return args
    return ["-n", "auto", "--dist", "loadfile", *args]


def main(argv: list[str]) -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - run.py may be started by any python3
        sys.exit(f"run.py: Taktline needs Python 3.11 or newer, not {sys.version.split()[0]}.")
    if not argv or argv[0] not in ("portal", "test"):
        sys.exit(f"usage:\n{USAGE}")
    command, args = argv[0], argv[1:]
    os.chdir(ROOT)
    ensure_environment()
    if command == "portal":
        _run(BIN / ("taktline.exe" if os.name == "nt" else "taktline"), ["up", *args])
    else:
        _run(PYTHON, ["-m", "pytest", *_on_every_core(args)])


if __name__ == "__main__":
    main(sys.argv[1:])
