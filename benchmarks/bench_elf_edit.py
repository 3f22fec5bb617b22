"""mwheel's own ELF editor against patchelf, on the same files and the same edits, one run.

    python benchmarks/bench_elf_edit.py [WHEEL...]

Every ELF shared object in the given wheels (default: the Linux wheels of the corpus) gets
the edit a repair gives a file that needs a grafted library: its first DT_NEEDED renamed to
a content-hashed name, RUNPATH set to a ``$ORIGIN`` path and, when it has one, a hashed
SONAME. Each editor works on its own copy; the time is the editor's (mwheel in-process, as
a repair calls it; patchelf one process per file, as a repair calls it). The two results
are then read back with mwheel's reader and must agree.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from common import CORPUS, table

from mwheel.binary import read_binary
from mwheel.errors import RepairError
from mwheel.repair.elf_edit import edit_elf
from mwheel.repair.elf_patch import patchelf_args, patchelf_path
from mwheel.repair.model import FileEdit


def elf_members(wheel: Path, dest: Path) -> list[Path]:
    out: list[Path] = []
    with zipfile.ZipFile(wheel) as zf:
        for info in zf.infolist():
            if ".so" not in info.filename.rsplit("/", 1)[-1]:
                continue
            data = zf.read(info)
            if data[:4] != b"\x7fELF":
                continue
            path = dest / f"{wheel.name.split('-')[0]}-{len(out)}-{info.filename.split('/')[-1]}"
            path.write_bytes(data)
            out.append(path)
    return out


def edit_for(path: Path) -> FileEdit | None:
    binary = read_binary(path.name, path.read_bytes())
    if binary.elf is None or not binary.dependencies:
        return None
    first = binary.dependencies[0]
    stem, _, rest = first.partition(".so")
    soname = binary.elf.soname
    return FileEdit(
        member=path.name,
        format="elf",
        replace=((first, f"{stem}-3f2a9c1d.so{rest}"),),
        rpaths=("$ORIGIN/../bench.libs",),
        soname=f"{soname.partition('.so')[0]}-0b7e4d2a.so" if soname else None,
    )


def semantics(path: Path) -> tuple[object, ...]:
    b = read_binary(path.name, path.read_bytes())
    assert b.elf is not None
    return (b.dependencies, b.elf.soname, b.elf.runpath + b.elf.rpath, b.elf.version_needs)


def main(argv: list[str]) -> int:
    wheels = [Path(a) for a in argv] or sorted(w for w in CORPUS.glob("*.whl") if "linux" in w.name)
    try:
        tool = patchelf_path()
    except RepairError as exc:
        print(exc, file=sys.stderr)
        return 1
    rows, totals, agree, files = [], [0.0, 0.0], 0, 0
    grown = [0, 0]  # bytes the editors added to the files
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for wheel in wheels:
            src = root / "src"
            src.mkdir(exist_ok=True)
            own_s = ref_s = 0.0
            count = 0
            for path in elf_members(wheel, src):
                edit = edit_for(path)
                if edit is None:
                    continue
                own = Path(shutil.copy(path, root / "own.so"))
                ref = Path(shutil.copy(path, root / "ref.so"))
                start = time.perf_counter()
                edit_elf(own, edit)
                own_s += time.perf_counter() - start
                start = time.perf_counter()
                subprocess.run([tool, *patchelf_args(edit), str(ref)], check=True)
                ref_s += time.perf_counter() - start
                agree += semantics(own) == semantics(ref)
                size = path.stat().st_size
                grown[0] += own.stat().st_size - size
                grown[1] += ref.stat().st_size - size
                count += 1
                path.unlink()
            shutil.rmtree(src)
            if not count:
                continue
            files += count
            totals[0] += own_s
            totals[1] += ref_s
            rows.append(
                [
                    wheel.name[:60],
                    str(count),
                    f"{own_s:.3f}",
                    f"{ref_s:.3f}",
                    f"{ref_s / own_s:.1f}x",
                ]
            )
    rows.append(
        [
            "total",
            str(files),
            f"{totals[0]:.3f}",
            f"{totals[1]:.3f}",
            f"{totals[1] / totals[0]:.1f}x",
        ]
    )
    print(table(["wheel", "ELF files", "mwheel s", "patchelf s", "patchelf/mwheel"], rows))
    print(f"same NEEDED/SONAME/RUNPATH/version needs after both editors: {agree}/{files}")
    print(f"bytes added to the files: mwheel {grown[0]}, patchelf {grown[1]}")
    return 0 if agree == files else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
