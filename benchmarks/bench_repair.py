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

from common import CORPUS, EXTRA, fast_floor, inflate_floor, ref_tool, rewrite_wheel, run, table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from fixturelib.linux import build_linux_fixture
from fixturelib.windows import build_windows_fixture

BIG = (
    "llvmlite-*manylinux*x86_64.whl",
    "scikit_learn-*manylinux*x86_64.whl",
    "pandas-*manylinux*x86_64.whl",
    # Not in the shared corpus; used when MWHEEL_CORPUS points at a cache holding them
    # (see benchmarks/README.md): the wheels issue #10 quotes auditwheel's figures for.
    "xgboost-*manylinux*x86_64.whl",
    "pyarrow-*manylinux*x86_64.whl",
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
    delvewheel = ref_tool("delvewheel")
    work = Path(tempfile.mkdtemp(prefix="mwheel-bench-"))
    wheels = [build_linux_fixture(n, work / n).wheel for n in ("chain", "system", "runpath")]
    for pattern in BIG:
        found = sorted(CORPUS.glob(pattern)) or sorted(EXTRA.glob(pattern))
        if found:
            wheels.append(retag_linux(found[0]))
    # (wheel, extra mwheel arguments, reference label, reference command)
    jobs: list[tuple[Path, list[str], str, list[str] | None]] = [
        (w, [], "auditwheel repair", [auditwheel, "repair"] if auditwheel else None) for w in wheels
    ]
    for arch in ("x86_64", "x86"):
        fx = build_windows_fixture(work / f"win-{arch}", arch)
        ref_argv = [delvewheel, "repair", "--add-path", str(fx.lib_dir)] if delvewheel else None
        jobs.append((fx.wheel, ["--lib-path", str(fx.lib_dir)], "delvewheel repair", ref_argv))
    rows = []
    for wheel, extra, label, ref_argv in jobs:
        floor = inflate_floor(wheel)
        isal = fast_floor(wheel, "isal")
        out_m, out_a = work / "m", work / "a"
        mine = run(
            [sys.executable, "-m", "mwheel", "repair", *extra, "-w", str(out_m), str(wheel)],
            args.repeat,
        )
        ref = run([*ref_argv, "-w", str(out_a), str(wheel)], args.repeat) if ref_argv else None
        shutil.rmtree(out_m, ignore_errors=True)
        shutil.rmtree(out_a, ignore_errors=True)
        rows.append(
            [
                wheel.name[:55],
                label,
                f"{mine.seconds:.2f}",
                f"{ref.seconds:.2f}" if ref else "-",
                f"{floor:.2f}",
                f"{isal:.2f}" if isal is not None else "-",
                f"{mine.seconds / floor:.2f}x",
                f"{ref.seconds / mine.seconds:.1f}x" if ref else "-",
                f"{mine.peak_mb:.0f}",
                f"{ref.peak_mb:.0f}" if ref else "-",
                f"{mine.returncode}/{ref.returncode if ref else '-'}",
            ]
        )
    shutil.rmtree(work, ignore_errors=True)
    header = [
        "wheel",
        "reference",
        "mwheel s",
        "ref s",
        "floor s",
        "isal floor s",
        "mwheel/floor",
        "ref/mwheel",
        "mwheel MB",
        "ref MB",
        "exit",
    ]
    print(table(header, rows))


if __name__ == "__main__":
    main()
