"""Write seed directories for the harnesses: the test fixtures and the corpus wheels.

    python fuzz/seeds.py DEST [--max-bytes N]

DEST/<target>/ receives, for wheel and repair, every Linux fixture wheel (built from
fixtures/ sources by tests/fixturelib) and every corpus wheel no larger than --max-bytes
(libFuzzer's -max_len; larger inputs would only be truncated); for elf, macho and pe,
the binaries found inside those wheels.
"""

from __future__ import annotations

import argparse
import os
import sys
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from fixturelib.linux import build_linux_fixture

from mwheel.binary import sniff

CORPUS = Path(os.environ.get("MWHEEL_CORPUS", Path.home() / ".cache" / "mwheel-corpus"))
FIXTURES = ("clean", "chain", "runpath", "musl", "aarch64", "cxx", "system")


def seed_wheels(work: Path, max_bytes: int, fixtures: tuple[str, ...] = FIXTURES) -> list[Path]:
    wheels = [build_linux_fixture(name, work / name).wheel for name in fixtures]
    if CORPUS.is_dir():
        wheels += sorted(p for p in CORPUS.glob("*.whl") if p.stat().st_size <= max_bytes)
    return wheels


def write_seeds(dest: Path, wheels: list[Path], targets: tuple[str, ...], max_bytes: int) -> None:
    for target in targets:
        (dest / target).mkdir(parents=True, exist_ok=True)
    for wheel in wheels:
        if "wheel" in targets:
            (dest / "wheel" / wheel.name).write_bytes(wheel.read_bytes())
        if "repair" in targets:
            (dest / "repair" / wheel.name).write_bytes(wheel.read_bytes())
        with zipfile.ZipFile(wheel) as zf:
            for info in zf.infolist():
                if info.file_size > max_bytes:
                    continue
                data = zf.read(info)
                fmt = sniff(data[:4096])
                if fmt in targets:
                    safe = f"{wheel.stem[:40]}-{info.filename.replace('/', '_')}"
                    (dest / fmt / safe).write_bytes(data)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dest", type=Path)
    ap.add_argument("--max-bytes", type=int, default=1 << 20)
    args = ap.parse_args()
    wheels = seed_wheels(args.dest / ".build", args.max_bytes)
    write_seeds(args.dest, wheels, ("wheel", "repair", "elf", "macho", "pe"), args.max_bytes)


if __name__ == "__main__":
    main()
