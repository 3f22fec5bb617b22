"""mwheel repair against auditwheel repair on the same wheels, one run, ratio and peak RSS.

    python benchmarks/bench_repair.py [--repeat N]

Wheels: the Linux repair fixtures (built from fixtures/ sources, grafting libraries) and the
largest corpus wheels retagged linux_x86_64, which both tools must retag without grafting
anything (a no-graft repair of a big wheel: the cost is reading and rewriting it).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from common import CORPUS, inflate_floor, ref_tool, rewrite_wheel, run, table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from fixturelib.linux import build_linux_fixture

BIG = (
    "llvmlite-*manylinux*x86_64.whl",
    "scikit_learn-*manylinux*x86_64.whl",
    "pandas-*manylinux*x86_64.whl",
)


def retag_linux(wheel: Path) -> Path:
    parts = wheel.name[: -len(".whl")].split("-")
    return rewrite_wheel(
        wheel, "-".join([*parts[:-1], "linux_x86_64"]) + ".whl", platform="linux_x86_64"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    auditwheel = ref_tool("auditwheel")
    work = Path(tempfile.mkdtemp(prefix="mwheel-bench-"))
    wheels = [build_linux_fixture(n, work / n).wheel for n in ("chain", "system", "runpath")]
    for pattern in BIG:
        found = sorted(CORPUS.glob(pattern))
        if found:
            wheels.append(retag_linux(found[0]))
    rows = []
    for wheel in wheels:
        floor = inflate_floor(wheel)
        out_m, out_a = work / "m", work / "a"
        mine = run(
            [sys.executable, "-m", "mwheel", "repair", "-w", str(out_m), str(wheel)], args.repeat
        )
        ref = (
            run([auditwheel, "repair", "-w", str(out_a), str(wheel)], args.repeat)
            if auditwheel
            else None
        )
        shutil.rmtree(out_m, ignore_errors=True)
        shutil.rmtree(out_a, ignore_errors=True)
        rows.append(
            [
                wheel.name[:55],
                f"{mine.seconds:.2f}",
                f"{ref.seconds:.2f}" if ref else "-",
                f"{floor:.2f}",
                f"{mine.seconds / floor:.1f}x",
                f"{ref.seconds / mine.seconds:.1f}x" if ref else "-",
                f"{mine.peak_mb:.0f}",
                f"{ref.peak_mb:.0f}" if ref else "-",
                str(mine.returncode),
            ]
        )
    shutil.rmtree(work, ignore_errors=True)
    print(
        table(
            [
                "wheel",
                "mwheel s",
                "auditwheel s",
                "floor s",
                "mwheel/floor",
                "auditwheel/mwheel",
                "mwheel MB",
                "auditwheel MB",
                "exit",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
