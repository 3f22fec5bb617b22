"""Fresh virtual environments for proving that a wheel installs and imports on its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def fresh_venv(where: Path) -> Path:
    """A new venv without pip (pip is run from the test's interpreter with --python)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    return where / "bin" / "python"


def pip_install(python: Path, wheel: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            "--disable-pip-version-check",
            str(wheel),
        ],
        check=True,
    )


def clean_env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("LD_LIBRARY_PATH", "PYTHONPATH", "LD_PRELOAD")
    }
    return env


def loaded_libraries(maps: str) -> set[str]:
    """Shared objects mapped by a process, from the text of /proc/<pid>/maps."""
    out = set()
    for line in maps.splitlines():
        parts = line.split(None, 5)
        if len(parts) == 6 and ".so" in parts[5]:
            out.add(parts[5].strip())
    return out
