"""The reader for each binary format: pipeline code looks readers up here, never branches."""

from __future__ import annotations

from mwheel.binary import Reader
from mwheel.binary.model import Format
from mwheel.lazy import LazyRegistry

# Each reader is imported on first use (the Mach-O reader pulls in macholib): a wheel with
# only PE files never loads the other two.
READERS: LazyRegistry[Format, Reader] = LazyRegistry(
    {
        "elf": "mwheel.binary.elf:read_elf",
        "macho": "mwheel.binary.macho:read_macho",
        "pe": "mwheel.binary.pe:read_pe",
    }
)
