"""Coverage-guided fuzzing of mwheel's readers with atheris (libFuzzer).

    python fuzz/harness.py TARGET [libFuzzer options] [SEED_DIR...]

TARGET is one of: wheel, elf, macho, pe. A harness may only ever see ``MwheelError``; any
other exception is a crash, which libFuzzer saves as ``crash-*`` in the working directory.
Turn each crash into a regression test by copying it to tests/data/fuzz/<target>/.

CI runs every target for a short fixed budget (tests/test_fuzz.py); to run longer:

    python fuzz/harness.py elf -max_total_time=600 /tmp/seeds/elf
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris

from mwheel.audit import audit_wheel
from mwheel.binary import read_binary
from mwheel.binary.registry import READERS  # loaded now so that instrument_all sees it
from mwheel.errors import MwheelError

# Prefixes that steer random input into each reader (libFuzzer mutates the rest).
MAGIC = {"elf": b"\x7fELF", "macho": b"\xcf\xfa\xed\xfe", "pe": b"MZ"}
TARGET = sys.argv[1] if len(sys.argv) > 1 else "elf"
_WHEEL = Path(
    tempfile.mkdtemp(prefix="mwheel-fuzz-"), "fuzz-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"
)


def one_input(data: bytes) -> None:
    if TARGET == "wheel":
        with open(_WHEEL, "wb") as f:
            f.write(data)
        report = audit_wheel(_WHEEL)  # never raises: errors are carried in the report
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
    if TARGET not in (*READERS, "wheel"):
        sys.exit(f"unknown target {TARGET!r}: wheel, elf, macho or pe")
    # instrument_all rather than instrument_imports: an editable install's import hook
    # hides mwheel's modules from atheris's import-time instrumentation.
    atheris.instrument_all()
    atheris.Setup([sys.argv[0], *sys.argv[2:]], one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
