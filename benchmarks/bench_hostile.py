"""Hostile wheels: mwheel's time and peak RSS beside auditwheel's, on the same files, one run.

    python benchmarks/bench_hostile.py [--timeout SECONDS]

The files are built here from the clean Linux fixture with the builders the tests use
(tests/hostile.py): a RECORD of 64 Mi short rows (about 250 KB deflated), a RECORD that
inflates past its declared size into 10**6 rows of missing files, an overlapping-entry
bomb (200 names over one 8 MB kernel), a local header that disagrees with the central
directory, and aliased member names. Each tool runs ``audit``/``show`` and ``repair``;
the table gives wall time, peak RSS and exit code (-9: killed at the timeout).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from common import ref_tool, run, table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from fixturelib.linux import build_linux_fixture
from hostile import (
    Members,
    overlapping_bomb,
    patch_local_header,
    record_for,
    set_declared_size,
    variant,
)

NAME = "mwfix_clean-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
RECORD = "mwfix_clean-1.0.dist-info/RECORD"


def _record(extra: Callable[[Members, str], bytes]) -> Callable[[Members], Members]:
    def change(members: Members) -> Members:
        return [(n, extra(members, n) if n == RECORD else d) for n, d in members]

    return change


def build_cases(good: Path, work: Path) -> dict[str, Path]:
    cases: dict[str, Path] = {}

    def case(name: str) -> Path:
        folder = work / name
        folder.mkdir()
        return folder / NAME

    cases["record-short-rows"] = variant(
        good,
        case("record-short-rows"),
        _record(lambda m, r: record_for(m, r) + b"x,,\n" * (64 << 20)),
        rerecord=False,
    )
    lying = variant(
        good,
        case("record-lies-1e6-rows"),
        _record(lambda m, r: record_for(m, r) + b"gone.py,,\n" * 10**6),
        rerecord=False,
    )
    set_declared_size(lying, RECORD, 4096)
    patch_local_header(lying, RECORD, "usize", 4096)
    cases["record-lies-1e6-rows"] = lying
    cases["overlap-bomb"] = overlapping_bomb(good, case("overlap-bomb"), 200, 8 << 20)
    local = variant(good, case("local-header-size"), lambda m: m)
    patch_local_header(local, "mwfix_clean/__init__.py", "usize", 35)
    cases["local-header-size"] = local
    cases["aliased-names"] = variant(
        good,
        case("aliased-names"),
        lambda m: [*m, ("mwfix_clean/./__init__.py", b"import os\n")],
    )
    return cases


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--timeout", type=float, default=120.0)
    args = ap.parse_args()
    auditwheel = ref_tool("auditwheel")
    work = Path(tempfile.mkdtemp(prefix="mwheel-hostile-"))
    good = build_linux_fixture("clean", work / "good").wheel
    rows = []
    for label, wheel in build_cases(good, work).items():
        size_kb = wheel.stat().st_size / 1024
        for command, ref_command in (("audit", "show"), ("repair", "repair")):
            out_m, out_a = work / "out-m", work / "out-a"
            extra_m = ["-w", str(out_m)] if command == "repair" else []
            extra_a = ["-w", str(out_a)] if command == "repair" else []
            mine = run(
                [sys.executable, "-m", "mwheel", command, *extra_m, str(wheel)],
                timeout=args.timeout,
            )
            ref = (
                run([auditwheel, ref_command, *extra_a, str(wheel)], timeout=args.timeout)
                if auditwheel
                else None
            )
            shutil.rmtree(out_m, ignore_errors=True)
            shutil.rmtree(out_a, ignore_errors=True)
            rows.append(
                [
                    label,
                    f"{size_kb:.0f}",
                    command,
                    f"{mine.seconds:.2f}",
                    f"{ref.seconds:.2f}" if ref else "-",
                    f"{mine.peak_mb:.0f}",
                    f"{ref.peak_mb:.0f}" if ref else "-",
                    f"{mine.returncode}/{ref.returncode if ref else '-'}",
                ]
            )
    shutil.rmtree(work, ignore_errors=True)
    header = ["case", "KB", "command", "mwheel s", "auditwheel s", "mwheel MB", "auditwheel MB"]
    print(table([*header, "exit m/a"], rows))


if __name__ == "__main__":
    main()
