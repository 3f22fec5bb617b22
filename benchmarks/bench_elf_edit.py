"""mwheel's own ELF editor against patchelf, on the same files and the same edits, one run.

    python benchmarks/bench_elf_edit.py [--repeat N] [--lief-python PYTHON] [WHEEL...]

Every ELF shared object in the given wheels (default: the Linux wheels of the corpus) gets
the edit a repair gives a file that needs a grafted library: its first DT_NEEDED renamed to
a content-hashed name, RUNPATH set to a ``$ORIGIN`` path and, when it has one, a hashed
SONAME. Each editor works on its own copy; the time is the editor's (mwheel in-process, as
a repair calls it; patchelf one process per file, as a repair calls it). The two results
are then read back with mwheel's reader and must agree. With ``--lief-python`` (a venv
with lief: ``python -m venv V && V/bin/pip install lief``) lief does the same edits too
(``lief_edit.py``, timed inside that process, so without its start-up and import).
"""

from __future__ import annotations

import argparse
import json
import os
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


def lief_edits(python: str, items: list[tuple[Path, FileEdit]]) -> list[float]:
    """Seconds lief took on each file (in a venv that has it, through lief_edit.py)."""
    doc = [
        {"path": str(p), "soname": e.soname, "replace": e.replace, "rpaths": e.rpaths}
        for p, e in items
    ]
    proc = subprocess.run(
        [python, str(Path(__file__).with_name("lief_edit.py"))],
        input=json.dumps(doc),
        capture_output=True,
        text=True,
        check=True,
    )
    return [float(line) for line in proc.stdout.split()]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheels", nargs="*", type=Path)
    parser.add_argument(
        "--lief-python",
        default=os.environ.get("MWHEEL_LIEF_PYTHON"),
        help="a Python that has lief, to measure it too (lief is not a dependency of mwheel)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="best of N per file and editor")
    args = parser.parse_args(argv)
    wheels = args.wheels or sorted(w for w in CORPUS.glob("*.whl") if "linux" in w.name)
    try:
        tool = patchelf_path()
    except RepairError as exc:
        print(exc, file=sys.stderr)
        return 1
    names = ["mwheel", "patchelf"] + (["lief"] if args.lief_python else [])
    rows: list[list[str]] = []
    totals = dict.fromkeys(names, 0.0)
    grown = dict.fromkeys(names, 0)  # bytes each editor added to the files
    agree = dict.fromkeys(names[1:], 0)
    files = 0
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for wheel in wheels:
            src = root / "src"
            src.mkdir()
            seconds = dict.fromkeys(names, 0.0)
            items: list[tuple[Path, FileEdit]] = []
            for path in elf_members(wheel, src):
                edit = edit_for(path)
                if edit is None:
                    continue
                items.append((path, edit))
                best = {n: float("inf") for n in names}
                for _ in range(args.repeat):
                    copies = {n: Path(shutil.copy(path, f"{path}.{n}")) for n in names}
                    start = time.perf_counter()
                    edit_elf(copies["mwheel"], edit)
                    best["mwheel"] = min(best["mwheel"], time.perf_counter() - start)
                    argv = [tool, *patchelf_args(edit), str(copies["patchelf"])]
                    start = time.perf_counter()
                    subprocess.run(argv, check=True)
                    best["patchelf"] = min(best["patchelf"], time.perf_counter() - start)
                seconds["mwheel"] += best["mwheel"]
                seconds["patchelf"] += best["patchelf"]
            if args.lief_python and items:
                lief_items = [(Path(f"{p}.lief"), e) for p, e in items]
                runs = []
                for _ in range(args.repeat):
                    for p, _e in items:
                        shutil.copy(p, f"{p}.lief")
                    runs.append(lief_edits(args.lief_python, lief_items))
                seconds["lief"] = sum(min(times) for times in zip(*runs, strict=True))
            for path, _edit in items:
                mine = semantics(Path(f"{path}.mwheel"))
                for n in names:
                    grown[n] += Path(f"{path}.{n}").stat().st_size - path.stat().st_size
                    if n != "mwheel":
                        agree[n] += semantics(Path(f"{path}.{n}")) == mine
            shutil.rmtree(src)
            if not items:
                continue
            files += len(items)
            for n in names:
                totals[n] += seconds[n]
            rows.append(
                [wheel.name[:60], str(len(items))]
                + [f"{seconds[n]:.3f}" for n in names]
                + [f"{seconds[n] / seconds['mwheel']:.1f}x" for n in names[1:]]
            )
    rows.append(
        ["total", str(files)]
        + [f"{totals[n]:.3f}" for n in names]
        + [f"{totals[n] / totals['mwheel']:.1f}x" for n in names[1:]]
    )
    header = ["wheel", "ELF files"] + [f"{n} s" for n in names]
    print(table(header + [f"{n}/mwheel" for n in names[1:]], rows))
    for n in names[1:]:
        print(f"same NEEDED/SONAME/RUNPATH/version needs as mwheel: {n} {agree[n]}/{files}")
    print("bytes added to the files: " + ", ".join(f"{n} {grown[n]}" for n in names))
    return 0 if agree["patchelf"] == files else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
