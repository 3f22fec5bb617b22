"""The reader for each binary format: pipeline code looks readers up here, never branches."""

from __future__ import annotations

from mwheel.binary import Reader
from mwheel.binary.elf import read_elf
from mwheel.binary.macho import read_macho
from mwheel.binary.model import Format
from mwheel.binary.pe import read_pe

READERS: dict[Format, Reader] = {
    "elf": read_elf,
    "macho": read_macho,
    "pe": read_pe,
}
