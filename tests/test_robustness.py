"""Robustness: mutated binaries and archives only ever raise MwheelError, quickly.

A deterministic, seeded mutation run over real binaries of every registered format (bit
flips, overwritten words, truncation, spliced garbage) and over a real wheel. The atheris
harnesses under fuzz/ explore the same entry points with coverage guidance; this test keeps
a fixed, fast budget so that it can run in every CI pass.
"""

from __future__ import annotations

import random
import time
import zipfile
from pathlib import Path

import pytest
from fixturelib.linux import build_linux_fixture

from mwheel.audit import audit_wheel
from mwheel.binary import read_binary, sniff
from mwheel.binary.registry import READERS
from mwheel.errors import MwheelError

ROUNDS = 400


def mutate(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        kind = rng.randrange(5)
        pos = rng.randrange(len(buf)) if buf else 0
        if kind == 0 and buf:
            buf[pos] ^= 1 << rng.randrange(8)
        elif kind == 1 and len(buf) > pos + 8:
            # Interesting words: zero, all ones, huge, small negative.
            word = rng.choice([0, 0xFFFFFFFF, 0x7FFFFFFF, 0x80000000, 1, len(buf)])
            buf[pos : pos + 4] = word.to_bytes(4, "little")
        elif kind == 2:
            del buf[rng.randrange(max(len(buf), 1)) :]
        elif kind == 3:
            buf[pos:pos] = rng.randbytes(rng.randint(1, 64))
        elif buf:
            # Aim at the headers, where offsets and counts live.
            p = rng.randrange(min(len(buf), 512))
            buf[p] = rng.randrange(256)
    return bytes(buf)


def seeds(tmp_path: Path, corpus: Path | None) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    fx = build_linux_fixture("clean", tmp_path)
    with zipfile.ZipFile(fx.wheel) as zf:
        out["elf"] = next(zf.read(n) for n in zf.namelist() if n.endswith(".so"))
    if corpus is not None:
        for fmt, pattern, suffix in (
            ("macho", "psutil-*macosx*arm64.whl", ".so"),
            ("pe", "regex-*win32.whl", ".pyd"),
        ):
            found = sorted(corpus.glob(pattern))
            if found:
                with zipfile.ZipFile(found[0]) as zf:
                    out[fmt] = next(zf.read(n) for n in zf.namelist() if n.endswith(suffix))
    return out


@pytest.fixture(scope="module")
def binaries(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    from conftest import CORPUS

    corpus = CORPUS if CORPUS.is_dir() and any(CORPUS.glob("*.whl")) else None
    return seeds(tmp_path_factory.mktemp("seeds"), corpus)


@pytest.mark.parametrize("fmt", ["elf", "macho", "pe"])
def test_mutated_binaries_raise_only_binary_errors(fmt: str, binaries: dict[str, bytes]) -> None:
    if fmt not in READERS:
        pytest.skip(f"no {fmt} reader registered")
    if fmt not in binaries:
        pytest.skip(f"no {fmt} seed (corpus missing)")
    seed = binaries[fmt]
    read_binary("seed", seed)  # the seed itself parses
    rng = random.Random(f"mwheel-{fmt}")
    slowest = 0.0
    for i in range(ROUNDS):
        data = mutate(seed, rng)
        start = time.perf_counter()
        try:
            read_binary(f"mutant-{i}", data)
        except MwheelError as exc:
            assert "\n" not in exc.message
            assert f"mutant-{i}" in exc.message
        slowest = max(slowest, time.perf_counter() - start)
    # Bounded work: no mutant may make a reader loop (a generous bound, not a benchmark).
    assert slowest < 5.0


def test_mutated_wheels_fail_cleanly(tmp_path: Path) -> None:
    fx = build_linux_fixture("clean", tmp_path / "fx")
    good = fx.wheel.read_bytes()
    rng = random.Random("mwheel-wheel")
    for i in range(150):
        bad = tmp_path / fx.wheel.name
        bad.write_bytes(mutate(good, rng))
        report = audit_wheel(bad)
        if report.error is not None:
            assert report.error.exit_code in (3, 4), report.error.message
            assert "\n" not in report.error.message
        else:
            assert report.best_tag is not None, i


def test_java_class_file_is_not_a_fat_macho() -> None:
    # Same magic (0xCAFEBABE); a class file's next word is its version (major >= 45).
    java = bytes.fromhex("cafebabe00000034") + b"\x00" * 64
    assert sniff(java) is None
    fat = bytes.fromhex("cafebabe00000002") + b"\x00" * 64
    assert sniff(fat) == "macho"
