"""Binary readers: one per format behind one entry point, ``read_binary``.

This package is the only place a binary-parsing library is imported. Which reader runs is
decided by the magic bytes, so a file's name or suffix never decides how it is parsed.
"""

from __future__ import annotations

import mmap
from collections.abc import Callable

from mwheel.binary.model import Binary, Format

# The whole member: bytes, or a read-only map of a large member spilled to a temporary
# file. Readers index, slice and ``struct.unpack_from`` it; both types support that.
Buffer = bytes | mmap.mmap
Reader = Callable[[str, Buffer], Binary]

# Prefix handed to ``sniff``: enough to reach the PE signature of any real DLL.
SNIFF_BYTES = 4096


def sniff(head: bytes) -> Format | None:
    """Which format ``head`` (the first bytes of a file) starts, if any."""
    if head[:4] == b"\x7fELF":
        return "elf"
    magic = head[:4]
    if magic in (
        b"\xfe\xed\xfa\xce",
        b"\xce\xfa\xed\xfe",
        b"\xfe\xed\xfa\xcf",
        b"\xcf\xfa\xed\xfe",
    ):
        return "macho"
    if magic in (b"\xca\xfe\xba\xbe", b"\xca\xfe\xba\xbf") and len(head) >= 8:
        # Java class files share this magic; their next word is the class-file version
        # (>= 45), while a fat Mach-O header gives a small slice count.
        nfat = int.from_bytes(head[4:8], "big")
        return "macho" if 0 < nfat < 30 else None
    if head[:2] == b"MZ" and len(head) >= 64:
        # An MZ stub alone is a DOS program; a PE file has "PE\0\0" at e_lfanew.
        pe_offset = int.from_bytes(head[60:64], "little")
        if pe_offset + 4 > len(head) or head[pe_offset : pe_offset + 4] == b"PE\0\0":
            return "pe"
    return None


def read_binary(member: str, data: Buffer) -> Binary:
    """Parse ``data`` (the whole member) with the reader its magic selects."""
    from mwheel.binary.registry import READERS
    from mwheel.errors import BinaryError

    fmt = sniff(data[:SNIFF_BYTES])
    if fmt is None:
        raise BinaryError(f"{member}: not an ELF, Mach-O or PE file")
    return READERS[fmt](member, data)
