"""mwheel audit beside the reference auditor of each wheel, on the shared corpus, one run.

    python benchmarks/bench_audit.py [--repeat N] [GLOB]

References (from the venv in $MWHEEL_REF_VENV, default /opt/reftools, never mwheel's own):
`auditwheel show` for Linux wheels, `delvewheel show` for Windows wheels (on a copy without
its DELVEWHEEL marker, which it refuses), `abi3audit` for abi3 wheels, `delocate-listdeps
--all` for macOS wheels where it runs. One row per (wheel, reference): both command times,
the inflate floor (Python's zipfile inflating every member) and the same floor with ISA-L
and zlib-ng (the faster inflaters mwheel chose among), mwheel's command and in-process audit
time (steady state: policies loaded) over the stdlib floor, reference over mwheel, and both
peak RSS.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from common import CORPUS, EXTRA, fast_floor, inflate_floor, ref_tool, rewrite_wheel, run, table

# audit_wheel() in one process, steady state: the second audit of the wheel, once the
# policy data and modules are loaded (what each wheel costs in `mwheel audit dist/*.whl`).
INPROC = (
    "import sys, time; from pathlib import Path; from mwheel.audit import audit_wheel; "
    "w = Path(sys.argv[1]); audit_wheel(w); "
    "t = time.perf_counter(); audit_wheel(w); print(time.perf_counter() - t)"
)


def references(wheel: Path) -> list[tuple[str, list[str], Path]]:
    refs = []
    name = wheel.name
    if "linux" in name and (tool := ref_tool("auditwheel")):
        refs.append(("auditwheel show", [tool, "show"], wheel))
    if "-win" in name and (tool := ref_tool("delvewheel")):
        plain = rewrite_wheel(wheel, name, drop=(".dist-info/DELVEWHEEL",))
        refs.append(("delvewheel show", [tool, "show", "--analyze-existing"], plain))
    if "macosx" in name and (tool := ref_tool("delocate-listdeps")):
        probe = subprocess.run([tool, "--all", str(wheel)], capture_output=True, check=False)
        if probe.returncode == 0:
            refs.append(("delocate-listdeps", [tool, "--all"], wheel))
    if "-abi3-" in name and (tool := ref_tool("abi3audit")):
        refs.append(("abi3audit", [tool], wheel))
    return refs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("glob", nargs="?", default="*.whl")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    rows = []
    wheels = sorted(CORPUS.glob(args.glob))
    if EXTRA != CORPUS:
        wheels += sorted(EXTRA.glob(args.glob))
    for wheel in wheels:
        for label, argv, target in references(wheel) or [("-", [], wheel)]:
            floor = inflate_floor(target)
            isal, zng = fast_floor(target, "isal"), fast_floor(target, "zlib-ng")
            inproc = min(
                float(
                    subprocess.run(
                        [sys.executable, "-c", INPROC, str(target)],
                        capture_output=True,
                        text=True,
                        check=True,
                    ).stdout
                )
                for _ in range(args.repeat)
            )
            mine = run([sys.executable, "-m", "mwheel", "audit", str(target)], args.repeat)
            ref = run([*argv, str(target)], args.repeat) if argv else None
            rows.append(
                [
                    wheel.name[:48],
                    label,
                    f"{mine.seconds:.2f}",
                    f"{ref.seconds:.2f}" if ref else "-",
                    f"{floor:.3f}",
                    f"{isal:.3f}" if isal is not None else "-",
                    f"{zng:.3f}" if zng is not None else "-",
                    f"{inproc:.3f}",
                    f"{mine.seconds / floor:.2f}x",
                    f"{inproc / floor:.2f}x",
                    f"{ref.seconds / mine.seconds:.1f}x" if ref else "-",
                    f"{mine.peak_mb:.0f}",
                    f"{ref.peak_mb:.0f}" if ref else "-",
                ]
            )
    print(
        table(
            [
                "wheel",
                "reference",
                "mwheel s",
                "ref s",
                "floor s",
                "isal floor s",
                "zlib-ng floor s",
                "in-process s",
                "mwheel/floor",
                "in-process/floor",
                "ref/mwheel",
                "mwheel MB",
                "ref MB",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
