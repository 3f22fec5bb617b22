"""Coverage-guided fuzzing of mwheel's readers and of repair with atheris (libFuzzer).

    python fuzz/harness.py TARGET [libFuzzer options] [SEED_DIR...]

TARGET is one of: wheel, repair, elf, macho, pe. A harness may only ever see
``MwheelError``; any other exception is a crash, which libFuzzer saves as ``crash-*`` in the
working directory. Turn each crash into a regression test by copying it to
tests/data/fuzz/<target>/.

The wheel and repair targets write each input under a file name made from the input's
own ``.dist-info`` directory and WHEEL Tag lines, so that a seed tagged musllinux, macOS or
Windows passes the file-name/WHEEL agreement check and reaches the rules behind it (a
fixed name would stop every other seed there). The repair target runs a whole repair into
a scratch output directory and checks that a failure leaves no wheel and no scratch, and
that a success is a wheel mwheel itself accepts.

CI runs every target for a short fixed budget (tests/test_fuzz.py); to run longer, seeded
with the fixtures and corpus wheels (``fuzz/seeds.py`` writes them):

    python fuzz/seeds.py /tmp/seeds
    python fuzz/harness.py repair -max_total_time=600 /tmp/seeds/repair
"""

from __future__ import annotations

import io
import re
import shutil
import sys
import tempfile
import zipfile
from email.parser import HeaderParser
from pathlib import Path

import atheris

from mwheel.audit import audit_wheel
from mwheel.binary import read_binary
from mwheel.binary.registry import READERS  # loaded now so that instrument_all sees it
from mwheel.errors import MwheelError
from mwheel.repair import repair_wheel
from mwheel.wheel.writer import SCRATCH_PREFIX

# Prefixes that steer random input into each reader (libFuzzer mutates the rest).
MAGIC = {"elf": b"\x7fELF", "macho": b"\xcf\xfa\xed\xfe", "pe": b"MZ"}
TARGET = sys.argv[1] if len(sys.argv) > 1 else "elf"
FALLBACK_NAME = "fuzz-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"
_WORK = Path(tempfile.mkdtemp(prefix="mwheel-fuzz-"))
_SAFE = re.compile(r"^[A-Za-z0-9_.+!]+$")


def wheel_name(data: bytes) -> str:
    """The file name the input's own metadata implies (FALLBACK_NAME when it implies none).

    Read with the stdlib only, before mwheel sees the bytes: the name must not depend on
    the code under test.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            wheel = next(n for n in zf.namelist() if n.endswith(".dist-info/WHEEL"))
            dist, _, version = wheel.split("/")[0][: -len(".dist-info")].rpartition("-")
            text = zf.read(wheel).decode("utf-8", "replace")
    except Exception:  # any damage: the fixed name, and mwheel reports the damage
        return FALLBACK_NAME
    tags = [t.strip().split("-") for t in HeaderParser().parsestr(text).get_all("Tag") or []]
    tags = [t for t in tags if len(t) == 3 and all(_SAFE.match(p) for p in t)]
    if not tags or not _SAFE.match(dist or "") or not _SAFE.match(version or ""):
        return FALLBACK_NAME
    parts = [".".join(sorted({t[i] for t in tags})) for i in range(3)]
    return f"{dist}-{version}-{'-'.join(parts)}.whl"


def _write_input(data: bytes) -> Path:
    path = _WORK / "in" / wheel_name(data)
    shutil.rmtree(path.parent, ignore_errors=True)
    path.parent.mkdir(parents=True)
    path.write_bytes(data)
    return path


def _repair(path: Path) -> None:
    out = _WORK / "out"
    shutil.rmtree(out, ignore_errors=True)
    try:
        result = repair_wheel(path, out)
    except MwheelError as exc:
        assert "\n" not in exc.message
        assert not out.exists() or not list(out.glob("*.whl")), "a failed repair wrote"
    else:
        if result.output is not None:
            after = audit_wheel(result.output)
            assert after.error is None, after.error.message
    if out.exists():
        assert not [p for p in out.iterdir() if p.name.startswith(SCRATCH_PREFIX)]


def one_input(data: bytes) -> None:
    if TARGET in ("wheel", "repair"):
        path = _write_input(data)
        if TARGET == "repair":
            _repair(path)
            return
        report = audit_wheel(path)  # never raises: errors are carried in the report
        assert report.error is None or "\n" not in report.error.message
        return
    magic = MAGIC[TARGET]
    if not data.startswith(magic):
        data = magic + data
    try:
        read_binary("fuzz", data)
    except MwheelError as exc:
        assert "\n" not in exc.message


def main() -> None:
    if TARGET not in (*READERS, "wheel", "repair"):
        sys.exit(f"unknown target {TARGET!r}: wheel, repair, elf, macho or pe")
    # instrument_all rather than instrument_imports: an editable install's import hook
    # hides mwheel's modules from atheris's import-time instrumentation.
    atheris.instrument_all()
    atheris.Setup([sys.argv[0], *sys.argv[2:]], one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
