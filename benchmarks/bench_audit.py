"""mwheel audit against `auditwheel show` (and the inflate floor) on the corpus, one run.

    python benchmarks/bench_audit.py [--repeat N] [GLOB]

Reference tools come from the venv in $MWHEEL_REF_VENV (default /opt/reftools), never
from mwheel's own environment. Prints one row per wheel: times, ratios, peak RSS.
"""

from __future__ import annotations

import argparse
import sys

from common import CORPUS, inflate_floor, ref_tool, run, table


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("glob", nargs="?", default="*linux*.whl")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    auditwheel = ref_tool("auditwheel")
    rows = []
    for wheel in sorted(CORPUS.glob(args.glob)):
        floor = inflate_floor(wheel)
        mine = run([sys.executable, "-m", "mwheel", "audit", str(wheel)], args.repeat)
        ref = run([auditwheel, "show", str(wheel)], args.repeat) if auditwheel else None
        rows.append([
            wheel.name[:60], f"{mine.seconds:.2f}", f"{ref.seconds:.2f}" if ref else "-",
            f"{floor:.2f}", f"{mine.seconds / floor:.1f}x",
            f"{ref.seconds / mine.seconds:.1f}x" if ref else "-", f"{mine.peak_mb:.0f}",
            f"{ref.peak_mb:.0f}" if ref else "-",
        ])
    print(table(["wheel", "mwheel s", "auditwheel s", "floor s", "mwheel/floor",
                 "auditwheel/mwheel", "mwheel MB", "auditwheel MB"], rows))


if __name__ == "__main__":
    main()
