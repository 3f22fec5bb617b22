"""The PE reader on zig-built DLLs and on corrupted copies of them (mwheel/binary/pe.py)."""

from __future__ import annotations

import mmap
import random
import struct
from collections.abc import Callable
from pathlib import Path

import pefile
import pytest
from conftest import corpus_wheel
from fixturelib.wheels import make_wheel, wheel_members
from fixturelib.windows import build_chain

from mwheel.audit import audit_wheel
from mwheel.binary import read_binary
from mwheel.binary.model import Symbol
from mwheel.binary.pe import parse_headers, pe_checksum, read_pe
from mwheel.errors import BinaryError

EXT = "_ext.cp311-win_amd64.pyd"


@pytest.fixture(scope="module")
def chain() -> dict[str, bytes]:
    return {name: path.read_bytes() for name, path in build_chain("x86_64").items()}


@pytest.fixture(scope="module")
def chain32() -> dict[str, bytes]:
    return {name: path.read_bytes() for name, path in build_chain("x86").items()}


def test_extension_imports_exports_and_machine(chain: dict[str, bytes]) -> None:
    b = read_pe("winext/" + EXT, chain[EXT])
    assert b.format == "pe" and b.archs == ("x86_64",)
    assert b.dependencies[:2] == ("priv_outer.dll", "python3.dll")
    assert "KERNEL32.dll" in b.dependencies  # original case kept
    assert Symbol("PyLong_FromLong", library="python3.dll") in b.imported
    assert Symbol("outer_value", library="priv_outer.dll") in b.imported
    assert {"PyInit__ext", "ext_value"} <= b.exported
    assert b.pe is not None and b.pe.is_dll and not b.is_executable
    assert b.pe.machine == "IMAGE_FILE_MACHINE_AMD64"
    assert b.pe.imports == b.dependencies and b.pe.delay_imports == ()
    assert not b.pe.has_signature


def test_x86_machine(chain32: dict[str, bytes]) -> None:
    b = read_pe("x.pyd", chain32["_ext.cp311-win32.pyd"])
    assert b.archs == ("x86",) and b.pe is not None
    assert b.pe.machine == "IMAGE_FILE_MACHINE_I386"
    assert Symbol("PyLong_FromLong", library="python3.dll") in b.imported


def test_delay_imports() -> None:
    data = build_chain("x86_64", delay=True)["priv_outer.dll"].read_bytes()
    b = read_pe("priv_outer.dll", data)
    assert b.pe is not None and b.pe.delay_imports == ("priv_inner.dll",)
    assert b.dependencies == ("kernel32.dll", "priv_inner.dll")
    assert Symbol("inner_value", library="priv_inner.dll") in b.imported


def test_checksum_matches_pefile(chain: dict[str, bytes]) -> None:
    for name in ("priv_inner.dll", EXT):
        data = chain[name]
        hdr = parse_headers(name, data)
        assert pe_checksum(data, hdr.checksum_offset) == pefile.PE(data=data).generate_checksum()


def test_mapped_input_reads_the_same(chain: dict[str, bytes], tmp_path: Path) -> None:
    path = tmp_path / EXT
    path.write_bytes(chain[EXT])
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as view:
        mapped = read_binary(EXT, view)
    assert mapped == read_pe(EXT, chain[EXT])


# --- malformed input: one-line BinaryError naming the member --------------------------


def _pe_offset(data: bytes | bytearray) -> int:
    return int.from_bytes(data[60:64], "little")


def _directory_offset(data: bytes | bytearray, index: int) -> int:
    return parse_headers("x", data).directories_offset + 8 * index


def _corrupt_import_rva(data: bytes) -> bytes:
    out = bytearray(data)
    struct.pack_into("<I", out, _directory_offset(out, 1), 0x7FFF0000)
    return bytes(out)


def _corrupt_e_lfanew(data: bytes) -> bytes:
    return data[:60] + struct.pack("<I", 0x00FFFFF0) + data[64:]


def _corrupt_name_rva(data: bytes) -> bytes:
    out = bytearray(data)
    hdr = parse_headers("x", out)
    rva = hdr.directory(out, 1)[0]
    at = hdr.rva_to_offset(rva, 20, len(out))
    assert at is not None
    struct.pack_into("<I", out, at + 12, 0x7FFF0000)
    return bytes(out)


def _looping_descriptors(data: bytes) -> bytes:
    """Repeat the first import descriptor to the end of its section, naming a DLL whose
    name sits in the DOS stub (mapped at RVA < SizeOfHeaders): no terminating entry."""
    out = bytearray(data)
    hdr = parse_headers("x", out)
    rva = hdr.directory(out, 1)[0]
    at = hdr.rva_to_offset(rva, 20, len(out))
    assert at is not None
    section = next(s for s in hdr.sections if s[1] <= rva < s[1] + s[2])
    end = section[3] + section[4]
    out[64:74] = b"loop.dll\0\0"
    first = bytearray(out[at : at + 20])
    struct.pack_into("<I", first, 12, 64)
    for pos in range(at, end - 19, 20):
        out[pos : pos + 20] = first
    return bytes(out)


def _export_table_out_of_range(data: bytes) -> bytes:
    out = bytearray(data)
    hdr = parse_headers("x", out)
    rva = hdr.directory(out, 0)[0]
    at = hdr.rva_to_offset(rva, 40, len(out))
    assert at is not None
    struct.pack_into("<I", out, at + 32, 0x7FFF0000)  # AddressOfNames
    return bytes(out)


Corruption = Callable[[bytes], bytes]

CORRUPTIONS: dict[str, tuple[Corruption, str]] = {
    "truncated DOS header": (lambda d: d[:40], "truncated DOS header"),
    "e_lfanew out of range": (_corrupt_e_lfanew, "e_lfanew"),
    "truncated optional header": (lambda d: d[: _pe_offset(d) + 60], "optional header"),
    "truncated section table": (
        lambda d: d[: parse_headers("x", d).section_table_offset + 50],
        "section table",
    ),
    "import directory RVA out of range": (_corrupt_import_rva, "import directory RVA"),
    "import name RVA out of range": (_corrupt_name_rva, "outside the file"),
    "looping import descriptors": (_looping_descriptors, "import directory"),
    "export names out of range": (_export_table_out_of_range, "export name table"),
    "no PE signature": (
        lambda d: d[: _pe_offset(d)] + b"XX\0\0" + d[_pe_offset(d) + 4 :],
        "no PE signature",
    ),
}


@pytest.mark.parametrize("case", sorted(CORRUPTIONS))
def test_malformed_pe_raises_binary_error(chain: dict[str, bytes], case: str) -> None:
    corrupt, expected = CORRUPTIONS[case]
    data = corrupt(chain[EXT])
    with pytest.raises(BinaryError) as info:
        read_pe("pkg/" + EXT, data)
    message = info.value.message
    assert message.startswith("pkg/" + EXT + ": ") and "\n" not in message
    assert expected in message
    assert info.value.exit_code == 4


def test_descriptor_count_is_bounded(chain: dict[str, bytes]) -> None:
    """The import directory moved to .text (160 KB) filled with one descriptor: the walk
    stops at MAX_DESCRIPTORS instead of producing 8,000 imports."""
    out = bytearray(chain[EXT])
    hdr = parse_headers("x", out)
    name, va, _, raw, raw_size = hdr.sections[0]
    assert name == b".text" and raw_size > 20 * 4100
    descriptor = bytearray(20)
    struct.pack_into("<I", descriptor, 12, 64)  # the name: in the DOS stub
    out[64:74] = b"loop.dll\0\0"
    out[raw : raw + raw_size] = descriptor * (raw_size // 20) + bytes(raw_size % 20)
    struct.pack_into("<I", out, _directory_offset(out, 1), va)
    with pytest.raises(BinaryError, match="more than 4096 import descriptors"):
        read_pe("x", bytes(out))


def test_delay_import_rva_out_of_range() -> None:
    data = bytearray(build_chain("x86_64", delay=True)["priv_outer.dll"].read_bytes())
    struct.pack_into("<I", data, _directory_offset(data, 13), 0x7FFF0000)
    with pytest.raises(BinaryError, match="delay-import directory RVA"):
        read_pe("priv_outer.dll", bytes(data))


def test_random_header_corruption_never_escapes(chain: dict[str, bytes]) -> None:
    """Byte flips in the headers and import table: a Binary or a BinaryError, nothing else."""
    original = chain[EXT]
    hdr = parse_headers("x", original)
    imports = hdr.rva_to_offset(hdr.directory(original, 1)[0], 20, len(original)) or 0
    spots = list(range(0, 1024)) + list(range(imports, imports + 200))
    rng = random.Random(1234)
    for _ in range(200):
        data = bytearray(original)
        for _ in range(rng.randint(1, 4)):
            data[rng.choice(spots)] = rng.randrange(256)
        try:
            read_pe("fuzz.pyd", bytes(data))
        except BinaryError as exc:
            assert exc.message.startswith("fuzz.pyd: ")


def test_malformed_member_fails_the_audit_naming_it(
    chain: dict[str, bytes], tmp_path: Path
) -> None:
    wheel = make_wheel(
        tmp_path,
        "bad",
        "1.0",
        "cp311-cp311-win_amd64",
        {"bad/__init__.py": b"", "bad/" + EXT: _corrupt_import_rva(chain[EXT])},
    )
    report = audit_wheel(wheel)
    assert report.error is not None and report.exit_code == 4
    assert report.error.message.startswith("bad/" + EXT)


@pytest.mark.corpus
def test_signed_corpus_dll_checksum_and_signature(corpus: Path) -> None:
    wheel = corpus_wheel(corpus, "scikit_learn-*-win_amd64.whl")
    data = wheel_members(wheel)["sklearn/.libs/vcomp140.dll"]
    b = read_pe("vcomp140.dll", data)
    assert b.pe is not None and b.pe.has_signature
    assert b.pe.checksum == b.pe.computed_checksum != 0
    assert b.pe.overlay_size > 0  # the certificate table follows the sections
