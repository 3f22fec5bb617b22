"""maturin's own wheels and sdists of the fixture crates: the reference mwheel must equal.

Built once with the installed maturin (``maturin build --release -i <this interpreter>`` and
``maturin sdist``, run from the project directory as a user would) and cached under
``~/.cache/mwheel-fixtures/maturin-ref/<case>-<digest>``, the digest covering the crate's
files and maturin's version, so a warm rerun (or another xdist worker) builds nothing.
maturin gets its own cargo target directory: its environment differs from mwheel's and
sharing one would make cargo rebuild pyo3 at every switch.
"""

from __future__ import annotations

import contextlib
import email.parser
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement

CACHE = Path(os.environ.get("MWHEEL_FIXTURE_CACHE", Path.home() / ".cache" / "mwheel-fixtures"))
MATURIN_TARGET = Path(
    os.environ.get("MWHEEL_CARGO_TARGET", str(Path.home() / ".cache" / "mwheel-cargo-target"))
    + "-maturin"
)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def maturin_version() -> str | None:
    exe = shutil.which("maturin")
    if exe is None:
        return None
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=False)
    return out.stdout.strip() or None


def _digest(crate_root: Path, version: str) -> str:
    digest = hashlib.sha256(version.encode())
    for path in sorted(crate_root.rglob("*")):
        if path.is_file() and "target" not in path.relative_to(crate_root).parts:
            digest.update(path.relative_to(crate_root).as_posix().encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class Reference:
    wheel: Path
    sdist: Path | None


def maturin_reference(case: str, crate_root: Path, project: Path) -> Reference:
    """maturin's wheel and sdist of ``project`` (inside ``crate_root``), built once."""
    version = maturin_version()
    assert version is not None
    dest = CACHE / "maturin-ref" / f"{case}-{_digest(crate_root, version)}"
    with _locked(CACHE / "maturin-ref" / f".{case}.lock"):
        if not (dest / "done").is_file():
            shutil.rmtree(dest, ignore_errors=True)
            env = {**os.environ, "CARGO_TARGET_DIR": str(MATURIN_TARGET)}
            env.setdefault("CARGO_BUILD_JOBS", "2")
            cmds = [["maturin", "build", "--release", "-i", sys.executable, "-o", str(dest)]]
            if (project / "pyproject.toml").is_file():  # maturin makes no sdist without one
                cmds.append(["maturin", "sdist", "-o", str(dest)])
            for cmd in cmds:
                proc = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True)
                assert proc.returncode == 0, proc.stderr[-3000:]
            (dest / "done").write_text(version)
    return Reference(next(dest.glob("*.whl")), next(dest.glob("*.tar.gz"), None))


@dataclass(frozen=True)
class WheelView:
    """What two wheels must agree on (RECORD, WHEEL's Generator and binaries' bytes aside)."""

    members: dict[str, bytes]  # outside .dist-info; ELF files as their names only
    dist_info: tuple[str, ...]  # .dist-info file names, RECORD/WHEEL/METADATA/SBOM included
    metadata: tuple[tuple[str, str], ...]  # headers, Requires-Dist parsed
    body: str
    entry_points: frozenset[str]
    sbom_components: frozenset[str]


def _requirement(value: str) -> str:
    """Requires-Dist compared by meaning: maturin rewrites markers (python_full_version)."""
    req = Requirement(value)
    extras = re.findall(r"extra == ['\"]([^'\"]+)", str(req.marker or ""))
    env = {"python_full_version": "3.11.7", "python_version": "3.11", "sys_platform": "linux"}
    marker = [
        req.marker.evaluate({**env, "extra": e}) if req.marker else True for e in ["", *extras]
    ]
    return f"{req.name}{req.specifier} extras={extras} marker={marker}"


def wheel_view(path: Path) -> WheelView:
    import json

    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        dist_info = tuple(sorted(n.split(".dist-info/", 1)[1] for n in names if ".dist-info/" in n))
        members = {
            n: (b"ELF" if zf.read(n)[:4] == b"\x7fELF" else zf.read(n))
            for n in names
            if ".dist-info/" not in n
        }
        meta_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        meta = email.parser.BytesParser().parsebytes(zf.read(meta_name))
        ep_name = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        entry_points = frozenset(
            line.replace(" ", "")
            for n in ep_name
            for line in zf.read(n).decode().splitlines()
            if line.strip()
        )
        sboms = [n for n in names if ".dist-info/sboms/" in n and "mwheel.cdx" not in n]
        components = frozenset(
            c["name"] for n in sboms for c in json.loads(zf.read(n)).get("components", [])
        )
    headers = tuple(
        sorted((k, _requirement(v) if k == "Requires-Dist" else v) for k, v in meta.items())
    )
    body = meta.get_payload()
    assert isinstance(body, str)
    return WheelView(members, dist_info, headers, body, entry_points, components)
