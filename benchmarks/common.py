"""Shared pieces of the benchmarks: timing a command with its peak RSS, the inflate floor."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

CORPUS = Path(os.environ.get("MWHEEL_CORPUS", Path.home() / ".cache" / "mwheel-corpus"))
REF_VENV = Path(os.environ.get("MWHEEL_REF_VENV", "/opt/reftools"))
_RSS = Path(__file__).with_name("rss.py")


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_mb: float
    returncode: int


def run(argv: list[str], repeat: int = 1) -> Run:
    """Best wall time of ``repeat`` runs, and the command's own peak RSS (see rss.py)."""
    best, peak, code = float("inf"), 0.0, 0
    for _ in range(repeat):
        proc = subprocess.run([sys.executable, str(_RSS), *argv], capture_output=True,
                              text=True, check=False)
        seconds, kib, status = proc.stderr.strip().splitlines()[-1].split()
        best = min(best, float(seconds))
        peak = max(peak, int(kib) / 1024)
        code = int(status)
    return Run(best, peak, code)


def inflate_floor(wheel: Path) -> float:
    """Seconds Python's zipfile needs to inflate every member: no tool can read less."""
    start = time.perf_counter()
    with zipfile.ZipFile(wheel) as zf:
        for info in zf.infolist():
            with zf.open(info) as f:
                while f.read(1 << 20):
                    pass
    return time.perf_counter() - start


def ref_tool(name: str) -> str | None:
    path = REF_VENV / "bin" / name
    return str(path) if path.exists() else None


def table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True))
             for r in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
