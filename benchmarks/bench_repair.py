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
import zipfile
from pathlib import Path

from common import CORPUS, inflate_floor, ref_tool, run, table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from fixturelib.linux import build_linux_fixture

CACHE = Path.home() / ".cache" / "mwheel-bench"
BIG = ("llvmlite-*manylinux*x86_64.whl", "scikit_learn-*manylinux*x86_64.whl",
       "pandas-*manylinux*x86_64.whl")


def retag_linux(wheel: Path) -> Path:
    """A copy of ``wheel`` whose only platform tag is linux_x86_64 (cached)."""
    import base64
    import hashlib

    parts = wheel.name[: -len(".whl")].split("-")
    out = CACHE / ("-".join([*parts[:-1], "linux_x86_64"]) + ".whl")
    if out.exists():
        return out
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
        names = src.namelist()
        wheel_name = next(n for n in names if n.endswith(".dist-info/WHEEL"))
        text = src.read(wheel_name).decode()
        pairs = sorted({"-".join(ln.split(": ")[1].split("-")[:2])
                        for ln in text.splitlines() if ln.startswith("Tag:")})
        lines = [ln for ln in text.splitlines() if ln and not ln.startswith("Tag:")]
        new_wheel = ("\n".join([*lines, *(f"Tag: {p}-linux_x86_64" for p in pairs)])
                     + "\n").encode()
        digest = base64.urlsafe_b64encode(hashlib.sha256(new_wheel).digest()).rstrip(b"=")
        for name in names:
            data = new_wheel if name == wheel_name else src.read(name)
            if name.endswith(".dist-info/RECORD"):
                rows = [f"{wheel_name},sha256={digest.decode()},{len(new_wheel)}"
                        if row.startswith(wheel_name + ",") else row
                        for row in data.decode().splitlines()]
                data = ("\n".join(rows) + "\n").encode()
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(info, data)
    tmp.rename(out)
    return out


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
        mine = run([sys.executable, "-m", "mwheel", "repair", "-w", str(out_m), str(wheel)],
                   args.repeat)
        ref = (run([auditwheel, "repair", "-w", str(out_a), str(wheel)], args.repeat)
               if auditwheel else None)
        shutil.rmtree(out_m, ignore_errors=True)
        shutil.rmtree(out_a, ignore_errors=True)
        rows.append([
            wheel.name[:55], f"{mine.seconds:.2f}", f"{ref.seconds:.2f}" if ref else "-",
            f"{floor:.2f}", f"{mine.seconds / floor:.1f}x",
            f"{ref.seconds / mine.seconds:.1f}x" if ref else "-",
            f"{mine.peak_mb:.0f}", f"{ref.peak_mb:.0f}" if ref else "-",
            str(mine.returncode),
        ])
    shutil.rmtree(work, ignore_errors=True)
    print(table(["wheel", "mwheel s", "auditwheel s", "floor s", "mwheel/floor",
                 "auditwheel/mwheel", "mwheel MB", "auditwheel MB", "exit"], rows))


if __name__ == "__main__":
    main()
