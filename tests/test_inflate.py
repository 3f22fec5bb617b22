"""The fast inflater (ISA-L) and the zlib fallback give the same bytes, reports and wheels.

The deflate implementation only changes the time: every member inflated through ISA-L
equals zipfile's (zlib's) reading of it, ``MWHEEL_INFLATE=zlib`` gives byte-identical
repaired wheels and identical JSON reports, and a broken or missing ``isal`` falls back
to zlib without a word.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import corpus_wheel
from fixturelib.linux import build_linux_fixture

from mwheel.wheel.archive import WheelArchive
from mwheel.wheel.inflate import FAST_FROM, ZLIB, best, choose, for_size
from mwheel.wheel.zipread import inflate


def test_zlib_is_chosen_on_request() -> None:
    assert choose("zlib").name == "zlib"


def test_isal_is_the_default_where_installed() -> None:
    pytest.importorskip("isal")
    assert choose("").name == "isal"


def test_small_members_use_zlib_and_large_ones_the_best() -> None:
    """Small members skip ISA-L (its import costs more than it saves on them)."""
    assert for_size(0) is ZLIB and for_size(FAST_FROM - 1) is ZLIB
    assert for_size(FAST_FROM) is best() and best() is best()


@pytest.mark.parametrize("impl", ["isal", "zlib"])
def test_every_member_inflates_as_zipfile_reads_it(impl: str, corpus: Path) -> None:
    if impl == "isal":
        pytest.importorskip("isal")
    chosen = choose(impl)
    assert chosen.name == impl
    wheel = corpus_wheel(corpus, "scikit_learn-*manylinux*.whl")
    with WheelArchive(wheel) as archive, zipfile.ZipFile(wheel) as zf:
        for name in archive.members:
            entry = archive.info(name)
            got = b"".join(inflate(archive.fd, entry, archive.label, 4096, 1 << 16, chosen))
            assert got == zf.read(name), name


def _run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mwheel", *argv],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "SOURCE_DATE_EPOCH": "1700000000", **env},
    )


def _outputs(wheel: Path, tmp_path: Path, impl: str) -> tuple[bytes, object]:
    out = tmp_path / impl
    env = {"MWHEEL_INFLATE": impl}
    audit = _run(["audit", "--format", "json", str(wheel)], env)
    assert audit.returncode in (0, 1), audit.stderr
    repair = _run(["repair", "-w", str(out), str(wheel)], env)
    assert repair.returncode == 0, repair.stderr
    (written,) = out.glob("*.whl")
    return written.read_bytes(), json.loads(audit.stdout)


def _members(data: bytes) -> list[tuple[str, bytes, int]]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.testzip() is None
        return [(i.filename, zf.read(i), i.external_attr) for i in zf.infolist()]


def test_fallback_gives_identical_wheels_and_reports(tmp_path: Path, corpus: Path) -> None:
    """Same reports; same members, names, modes, order and RECORD (hence same install).

    Members copied from the input are the same bytes; members the repair deflates (grafts,
    WHEEL, RECORD) are deflated by ISA-L on the fast path, so only their compressed form
    differs, and each path is deterministic on its own.
    """
    pytest.importorskip("isal")
    wheels = [
        build_linux_fixture("chain", tmp_path / "fx").wheel,  # grafts: new members deflated
        corpus_wheel(corpus, "pandas-*manylinux*.whl"),  # big: parallel scan
    ]
    for wheel in wheels:
        work = tmp_path / wheel.stem[:20]
        fast, fast_report = _outputs(wheel, work / "a", "isal")
        slow, slow_report = _outputs(wheel, work / "b", "zlib")
        assert _members(fast) == _members(slow), wheel.name
        assert fast_report == slow_report, wheel.name
        again, _ = _outputs(wheel, work / "c", "isal")
        assert again == fast


def test_broken_isal_falls_back_to_zlib(tmp_path: Path) -> None:
    """An isal whose inflate returns wrong bytes (a bad build) is not used."""
    fake = tmp_path / "fake" / "isal"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "isal_zlib.py").write_text(
        "import zlib\n"
        "ISAL_BEST_COMPRESSION = 3\n"
        "crc32 = zlib.crc32\n"
        "compressobj = zlib.compressobj\n"
        "class _Broken:\n"
        "    unconsumed_tail = b''\n"
        "    eof = True\n"
        "    def decompress(self, data, max_length=0):\n"
        "        return b'\\0' * len(data)\n"
        "def decompressobj(wbits=15):\n"
        "    return _Broken()\n"
    )
    missing = tmp_path / "missing" / "isal"
    missing.mkdir(parents=True)
    (missing / "__init__.py").write_text("raise ImportError('no isal on this platform')\n")
    code = "from mwheel.wheel.inflate import DEFLATE; print(DEFLATE.name)"
    for root in (fake.parent, missing.parent):
        proc = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONPATH": str(root)},
        )
        assert proc.stdout.strip() == "zlib", (root, proc.stderr)
