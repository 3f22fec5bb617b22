"""Shared pieces of the benchmarks: timing a command with its peak RSS, the inflate floor."""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

CORPUS = Path(os.environ.get("MWHEEL_CORPUS", Path.home() / ".cache" / "mwheel-corpus"))
# The three large wheels issue 21 judges on (pyarrow, opencv, xgboost): not in the corpus,
# downloaded by the commands in benchmarks/README.md; included whenever present.
EXTRA = Path(os.environ.get("MWHEEL_BENCH_EXTRA", Path.home() / ".cache" / "mwheel-bench-extra"))
REF_VENV = Path(os.environ.get("MWHEEL_REF_VENV", "/opt/reftools"))
_RSS = Path(__file__).with_name("rss.py")


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_mb: float
    returncode: int


def run(argv: list[str], repeat: int = 1, timeout: float | None = None) -> Run:
    """Best wall time of ``repeat`` runs, and the command's own peak RSS (see rss.py).

    A run that exceeds ``timeout`` is reported with that time and return code -9.
    """
    best, peak, code = float("inf"), 0.0, 0
    for _ in range(repeat):
        child = subprocess.Popen(
            [sys.executable, str(_RSS), *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # a timeout kills the measured command too
        )
        try:
            _, stderr = child.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.communicate()
            return Run(float(timeout or 0), float("nan"), -9)
        proc = subprocess.CompletedProcess(child.args, child.returncode, "", stderr)
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


def fast_floor(wheel: Path, library: str) -> float | None:
    """Seconds ``library`` (isal or zlib-ng) needs to inflate every member; None if absent.

    The same work as ``inflate_floor`` with a faster inflater: each member's raw deflate
    bytes are read at the offset its local header gives and inflated in 1 MB steps.
    """
    import importlib

    module = {"isal": "isal.isal_zlib", "zlib-ng": "zlib_ng.zlib_ng"}[library]
    try:
        lib = importlib.import_module(module)
    except ImportError:
        return None
    start = time.perf_counter()
    with zipfile.ZipFile(wheel) as zf, open(wheel, "rb") as f:
        for info in zf.infolist():
            f.seek(info.header_offset + 26)
            name_len, extra_len = struct.unpack("<HH", f.read(4))
            f.seek(info.header_offset + 30 + name_len + extra_len)
            remaining = info.compress_size
            inflater = (
                lib.decompressobj(-15) if info.compress_type == zipfile.ZIP_DEFLATED else None
            )
            while remaining:
                block = f.read(min(remaining, 1 << 20))
                remaining -= len(block)
                if inflater is not None:
                    inflater.decompress(block)
    return time.perf_counter() - start


def ref_tool(name: str) -> str | None:
    path = REF_VENV / "bin" / name
    return str(path) if path.exists() else None


def table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


CACHE = Path.home() / ".cache" / "mwheel-bench"


def rewrite_wheel(
    src: Path, name: str, *, drop: tuple[str, ...] = (), platform: str | None = None
) -> Path:
    """A cached copy of ``src`` named ``name``: members ending in ``drop`` removed, WHEEL's
    platform tags replaced by ``platform``, RECORD fixed. Reference tools refuse wheels they
    repaired already, and a no-graft repair needs a wheel not yet tagged manylinux."""
    import base64
    import hashlib

    out = CACHE / name
    if out.exists():
        return out
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zout:
        names = [n for n in zin.namelist() if not n.endswith(drop or ("\0",))]
        wheel_name = next(n for n in names if n.endswith(".dist-info/WHEEL"))
        text = zin.read(wheel_name).decode()
        if platform:
            pairs = sorted(
                {
                    "-".join(ln.split(": ")[1].split("-")[:2])
                    for ln in text.splitlines()
                    if ln.startswith("Tag:")
                }
            )
            lines = [ln for ln in text.splitlines() if ln and not ln.startswith("Tag:")]
            text = "\n".join([*lines, *(f"Tag: {p}-{platform}" for p in pairs)]) + "\n"
        new_wheel = text.encode()
        digest = base64.urlsafe_b64encode(hashlib.sha256(new_wheel).digest()).rstrip(b"=")
        for n in names:
            data = new_wheel if n == wheel_name else zin.read(n)
            if n.endswith(".dist-info/RECORD"):
                rows = []
                for row in data.decode().splitlines():
                    path = row.split(",")[0]
                    if path == wheel_name:
                        row = f"{wheel_name},sha256={digest.decode()},{len(new_wheel)}"
                    if not path.endswith(drop or ("\0",)):
                        rows.append(row)
                data = ("\n".join(rows) + "\n").encode()
            info = zipfile.ZipInfo(n, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zout.writestr(info, data)
    tmp.rename(out)
    return out
