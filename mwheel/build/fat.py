"""Merging thin Mach-O files into one fat (universal) file, as ``lipo -create`` does.

A universal2 build is two cargo builds (``aarch64-apple-darwin``, ``x86_64-apple-darwin``)
whose dylibs or programs are merged here, so no Apple tool is needed. The layout is
``mach-o/fat.h``: a big-endian ``fat_header`` (FAT_MAGIC, number of slices), one
``fat_arch`` per slice (cputype, cpusubtype, offset, size, alignment as a power of two)
and each thin file at an offset aligned to its page size (16 KiB for arm64, 4 KiB for
x86_64, the alignment ``lipo`` uses). Each slice's bytes are copied unchanged, so its
code signature stays valid.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from pathlib import Path

from mwheel.errors import BuildError, OutputError

FAT_MAGIC = 0xCAFEBABE
_THIN_MAGICS = {b"\xcf\xfa\xed\xfe": "<", b"\xce\xfa\xed\xfe": "<"}  # MH_MAGIC(_64), LE
CPU_TYPE_ARM64 = 0x0100000C
_ALIGN = {CPU_TYPE_ARM64: 14}  # log2 of the slice alignment; 12 (4 KiB) otherwise


def _thin_header(path: Path, data: bytes) -> tuple[int, int]:
    """(cputype, cpusubtype) of a thin little-endian Mach-O file."""
    head = data[:4]
    if head == b"\xca\xfe\xba\xbe":
        raise BuildError(f"{path}: already a fat Mach-O file")
    if head not in _THIN_MAGICS or len(data) < 12:
        raise BuildError(f"{path}: not a Mach-O file")
    cputype, cpusubtype = struct.unpack_from("<iI", data, 4)
    return cputype & 0xFFFFFFFF, cpusubtype


def fat_bytes(slices: Sequence[tuple[Path, bytes]]) -> bytes:
    """The fat file holding ``slices`` (path, bytes), in the order given."""
    if len(slices) < 2:
        raise BuildError("a fat Mach-O file needs at least two slices")
    headers = [_thin_header(path, data) for path, data in slices]
    if len({h[0] for h in headers}) != len(headers):
        raise BuildError(
            f"{slices[0][0]}: two slices have the same CPU type; a fat file needs one of each"
        )
    offset = 8 + 20 * len(slices)
    entries: list[bytes] = []
    body: list[bytes] = []
    for (_, data), (cputype, cpusubtype) in zip(slices, headers, strict=True):
        align = _ALIGN.get(cputype, 12)
        start = -(-offset // (1 << align)) * (1 << align)
        body.append(b"\0" * (start - offset))
        body.append(data)
        entries.append(struct.pack(">IIIII", cputype, cpusubtype, start, len(data), align))
        offset = start + len(data)
    return struct.pack(">II", FAT_MAGIC, len(slices)) + b"".join(entries) + b"".join(body)


def merge(inputs: Sequence[Path], output: Path) -> Path:
    """Write the fat file of ``inputs`` to ``output`` (atomically) and return it."""
    slices: list[tuple[Path, bytes]] = []
    for path in inputs:
        try:
            slices.append((path, path.read_bytes()))
        except OSError as exc:
            raise BuildError(f"{path}: cannot read: {exc}") from None
    data = fat_bytes(slices)
    tmp = output.with_name(output.name + ".tmp")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data)
        tmp.chmod(0o755)
        tmp.replace(output)
    except OSError as exc:
        raise OutputError(f"{output}: cannot write: {exc}") from None
    return output
