"""Real PyPI wheels pinned by the project's own lists, downloaded once into a cache.

Each list under ``tests/data/wheels/*.lst`` holds one wheel a line in the same format as
``../shared/corpus/wheels.lst``: ``requirement|python-version|abi|platform|why``. A test asks for
a wheel by its requirement and platform; the file is downloaded with pip the first time
(``--no-deps --only-binary=:all:``) into ``$MWHEEL_PYPI_CACHE`` (default
``~/.cache/mwheel-pypi``) and the test is skipped, not failed, when the index cannot be reached.
Lists are per topic so that several test modules can pin wheels without editing one file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

LISTS = Path(__file__).resolve().parent.parent / "data" / "wheels"
CACHE = Path(os.environ.get("MWHEEL_PYPI_CACHE", Path.home() / ".cache" / "mwheel-pypi"))


@dataclass(frozen=True)
class Pin:
    """One pinned wheel: what pip is asked for, and why the project keeps it."""

    requirement: str
    python_version: str
    abi: str
    platform: str
    why: str

    @property
    def directory(self) -> Path:
        """One cache folder per pin, so two pins of one project never shadow each other."""
        safe = f"{self.requirement}-{self.abi}-{self.platform}".replace("=", "-").replace("/", "_")
        return CACHE / safe


def read_pins(list_name: str) -> list[Pin]:
    """The pins of ``tests/data/wheels/<list_name>.lst`` (comments and blank lines skipped)."""
    pins = []
    for line in (LISTS / f"{list_name}.lst").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        req, pyver, abi, plat, why = (part.strip() for part in line.split("|", 4))
        pins.append(Pin(req, pyver, abi, plat, why))
    return pins


def download(pin: Pin) -> Path | None:
    """The cached wheel of ``pin``, downloading it first; None when pip cannot get it."""
    found = sorted(pin.directory.glob("*.whl"))
    if found:
        return found[0]
    pin.directory.mkdir(parents=True, exist_ok=True)
    argv = [
        sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
        "--python-version", pin.python_version, "--abi", pin.abi, "--platform", pin.platform,
        "-d", str(pin.directory), pin.requirement,
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    found = sorted(pin.directory.glob("*.whl"))
    if done.returncode != 0 or not found:
        return None
    return found[0]


def pinned_wheel(list_name: str, requirement: str, platform: str | None = None) -> Path:
    """The wheel pinned as ``requirement`` (and ``platform``); skips the test if absent."""
    for pin in read_pins(list_name):
        if pin.requirement == requirement and (platform is None or pin.platform == platform):
            path = download(pin)
            if path is None:
                pytest.skip(f"cannot download {requirement} ({pin.platform}) from PyPI")
            return path
    raise LookupError(f"{requirement} ({platform}) is not pinned in {list_name}.lst")
