"""The Mach-O reader on real zig-built binaries (thin arm64, thin x86_64, universal2), and
on truncated or corrupted copies of them: every malformed input is one ``BinaryError``
naming the member, never another exception, a hang or a read past the end."""

from __future__ import annotations

import random
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from fixturelib.macos import (
    ARM64_11,
    X86_64_1012,
    dylib,
    extension,
    make_fat,
)

from mwheel.binary import read_binary, sniff
from mwheel.binary.macho import read_macho
from mwheel.binary.model import Symbol
from mwheel.errors import BinaryError

LC_LOAD_DYLIB, LC_SYMTAB, LC_CODE_SIGNATURE = 0xC, 0x2, 0x1D
DEP = "/opt/mwfix/lib/libmwreader.dylib"


@pytest.fixture(scope="module")
def arm64_ext() -> bytes:
    return extension("clean_ext.c", ARM64_11).read_bytes()


@pytest.fixture(scope="module")
def fat_ext() -> bytes:
    """A universal2 extension linking DEP by absolute install name in both slices."""
    slices = []
    for target in (X86_64_1012, ARM64_11):
        lib = dylib("dep_lib.c", "libmwreader.dylib", target, DEP)
        slices.append(extension("dep_ext.c", target, [lib]).read_bytes())
    return make_fat(slices)


def commands(data: bytes, base: int = 0) -> list[tuple[int, int, int]]:
    """(cmd, offset, size) of each load command of a little-endian 64-bit slice: an
    independent walk, so the tests can aim their corruptions."""
    ncmds = struct.unpack_from("<I", data, base + 16)[0]
    out, pos = [], base + 32
    for _ in range(ncmds):
        cmd, size = struct.unpack_from("<II", data, pos)
        out.append((cmd, pos, size))
        pos += size
    return out


def first(data: bytes, cmd: int) -> tuple[int, int]:
    return next((off, size) for c, off, size in commands(data) if c == cmd)


def test_thin_arm64_extension(arm64_ext: bytes) -> None:
    b = read_macho("pkg/_ext.so", arm64_ext)
    assert b.format == "macho" and b.archs == ("arm64",)
    assert b.macho is not None and not b.macho.fat
    (s,) = b.macho.slices
    assert s.minos == (11, 0, 0) and s.version_command == "LC_BUILD_VERSION"
    assert s.platform == "macos" and s.signed  # zig signs arm64 output, as ld does
    assert b.dependencies == ("/usr/lib/libSystem.B.dylib",)
    # -undefined dynamic_lookup: the Python API binds at import, to no named library.
    assert Symbol("PyLong_FromLong") in b.imported
    assert "PyInit__ext" in b.exported
    assert b.size == len(arm64_ext)


def test_universal2_extension(fat_ext: bytes) -> None:
    b = read_binary("pkg/_ext.so", fat_ext)
    assert b.archs == ("x86_64", "arm64")
    assert b.macho is not None and b.macho.fat
    x86, arm = b.macho.slices
    assert (x86.minos, x86.version_command) == ((10, 12, 0), "LC_VERSION_MIN_MACOSX")
    assert (arm.minos, arm.version_command) == ((11, 0, 0), "LC_BUILD_VERSION")
    assert not x86.signed and arm.signed
    assert b.dependencies == ("/usr/lib/libSystem.B.dylib", DEP)
    assert [ld.command for ld in arm.loads] == ["LC_LOAD_DYLIB", "LC_LOAD_DYLIB"]
    # The two-level namespace ordinal names the dylib each symbol comes from.
    assert Symbol("mw_dep_value", library=DEP) in b.imported
    assert Symbol("PyLong_FromLong") in b.imported
    assert x86.offset > 0 and arm.offset % (1 << 14) == 0


def test_dylib_install_id() -> None:
    data = dylib("dep_lib.c", "libmwreader.dylib", ARM64_11, DEP).read_bytes()
    b = read_macho("libmwreader.dylib", data)
    assert b.macho is not None and b.macho.slices[0].install_id == DEP
    assert b.macho.slices[0].filetype == "MH_DYLIB"
    assert "mw_dep_value" in b.exported and b.dependencies == ("/usr/lib/libSystem.B.dylib",)


def test_java_class_is_not_a_fat_macho(fat_ext: bytes) -> None:
    """Java class files share the fat magic 0xcafebabe; the next word tells them apart."""
    java = b"\xca\xfe\xba\xbe\x00\x00\x00\x41" + bytes(64)  # minor 0, major 65 (Java 21)
    assert sniff(java) is None
    assert sniff(fat_ext[:4096]) == "macho"
    with pytest.raises(BinaryError, match=r"^Foo\.class: not a fat Mach-O"):
        read_macho("Foo.class", java)


def _set(data: bytes, offset: int, fmt: str, *values: int) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, offset, *values)
    return bytes(out)


THIN_CORRUPTIONS: dict[str, Callable[[bytes], bytes]] = {
    "truncated magic": lambda d: d[:3],
    "truncated header": lambda d: d[:20],
    "truncated load commands": lambda d: d[: 32 + struct.unpack_from("<I", d, 20)[0] // 2],
    "truncated body": lambda d: d[: len(d) // 2],
    "sizeofcmds past end": lambda d: _set(d, 20, "<I", len(d)),
    "ncmds too many": lambda d: _set(d, 16, "<I", 0x7FFFFFFF),
    "zero cmdsize": lambda d: _set(d, 32 + 4, "<I", 0),
    "cmdsize past table": lambda d: _set(d, 32 + 4, "<I", 0x100000),
    "lc_str offset out of range": lambda d: _set(d, first(d, LC_LOAD_DYLIB)[0] + 8, "<I", 4000),
    "symtab out of range": lambda d: _set(d, first(d, LC_SYMTAB)[0] + 12, "<I", 0x0FFFFFFF),
    "signature out of range": lambda d: _set(
        d, first(d, LC_CODE_SIGNATURE)[0] + 12, "<I", 0x7FFFFFFF
    ),
}


@pytest.mark.parametrize("case", sorted(THIN_CORRUPTIONS))
def test_malformed_thin(arm64_ext: bytes, case: str) -> None:
    bad = THIN_CORRUPTIONS[case](arm64_ext)
    with pytest.raises(BinaryError) as err:
        read_macho("pkg/_bad.so", bad)
    assert err.value.message.startswith("pkg/_bad.so: ") and "\n" not in err.value.message


FAT_CORRUPTIONS: dict[str, Callable[[bytes], bytes]] = {
    "no architectures": lambda d: _set(d, 4, ">I", 0),
    "truncated fat table": lambda d: d[:20],
    "slice past end": lambda d: _set(d, 8 + 20 + 12, ">I", 0x7FFFFFF0),
    "slice inside header": lambda d: _set(d, 8 + 8, ">I", 4),
    "overlapping slices": lambda d: _set(
        d, 8 + 20 + 8, ">I", struct.unpack_from(">I", d, 8 + 8)[0]
    ),
    "cpu type mismatch": lambda d: _set(d, 8, ">i", 0x0100000C),
    "truncated file": lambda d: d[: len(d) - 100],
}


@pytest.mark.parametrize("case", sorted(FAT_CORRUPTIONS))
def test_malformed_fat(fat_ext: bytes, case: str) -> None:
    bad = FAT_CORRUPTIONS[case](fat_ext)
    with pytest.raises(BinaryError) as err:
        read_macho("pkg/_bad.so", bad)
    assert err.value.message.startswith("pkg/_bad.so: ") and "\n" not in err.value.message


def test_random_damage_is_binary_error_or_parses(arm64_ext: bytes, fat_ext: bytes) -> None:
    """Flip bytes of the headers and load commands: a parse or a BinaryError, nothing else."""
    rng = random.Random(1234)
    for data in (arm64_ext, fat_ext):
        head = 4096 if data[:4] != b"\xca\xfe\xba\xbe" else 64
        for _ in range(300):
            bad = bytearray(data)
            for _ in range(rng.randint(1, 4)):
                bad[rng.randrange(4, head)] = rng.randrange(256)
            cut = len(bad) if rng.random() < 0.7 else rng.randrange(len(bad))
            try:
                read_macho("m.so", bytes(bad[:cut]))
            except BinaryError as exc:
                assert exc.message.startswith("m.so: ")


def test_every_truncation_of_the_header(arm64_ext: bytes) -> None:
    for cut in range(0, 32 + struct.unpack_from("<I", arm64_ext, 20)[0], 7):
        with pytest.raises(BinaryError):
            read_macho("m.so", arm64_ext[:cut])


def test_parses_every_corpus_macho(corpus: Path) -> None:
    """Every Mach-O member of the corpus's macOS wheels parses, with archs and versions."""
    import zipfile

    seen = 0
    for wheel in sorted(corpus.glob("*macosx*.whl")):
        with zipfile.ZipFile(wheel) as zf:
            for name in zf.namelist():
                data = zf.read(name)
                if sniff(data[:4096]) != "macho":
                    continue
                b = read_macho(name, data)
                assert b.macho is not None and all(s.minos for s in b.macho.slices)
                seen += 1
    assert seen >= 10


test_parses_every_corpus_macho = pytest.mark.corpus(test_parses_every_corpus_macho)
