"""The one data model of a parsed binary, whatever its format.

Readers (``elf.py``, ``macho.py``, ``pe.py``) turn bytes into a frozen ``Binary``; everything
after them (resolution, audit rules, repair planning) works on this model and never re-reads
the file. Format-specific facts live in ``ElfInfo``, ``MachOInfo`` or ``PeInfo``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Format = Literal["elf", "macho", "pe"]


@dataclass(frozen=True)
class Symbol:
    """An imported (undefined) or exported symbol.

    ``version`` is the ELF symbol version (``GLIBC_2.17``); ``library`` is the library the
    symbol is bound to where the format says (ELF version needs, PE import tables, Mach-O
    two-level namespace ordinals).
    """

    name: str
    version: str | None = None
    library: str | None = None
    # An optional (ELF STB_WEAK undefined) import: the loader leaves it null when missing.
    weak: bool = False

    def __str__(self) -> str:
        return f"{self.name}@{self.version}" if self.version else self.name


@dataclass(frozen=True)
class ElfInfo:
    """ELF specifics (System V gABI, with the GNU versioning and property extensions)."""

    elf_class: int  # 32 or 64
    big_endian: bool
    osabi: str
    machine: str  # e_machine name, e.g. EM_X86_64
    file_type: str  # ET_DYN, ET_EXEC
    interpreter: str | None
    soname: str | None
    rpath: tuple[str, ...]
    runpath: tuple[str, ...]
    # For each needed library, the versions required from it (.gnu.version_r).
    version_needs: tuple[tuple[str, tuple[str, ...]], ...]
    version_definitions: tuple[str, ...]
    # x86-64 micro-architecture level required by GNU_PROPERTY_X86_ISA_1_NEEDED (1..4).
    isa_level: int | None
    # e_flags: on ARM the EABI version and the float ABI (EF_ARM_ABI_FLOAT_HARD/SOFT), which
    # decide whether the file can load into an armhf (armv7l-tagged) process at all.
    flags: int = 0
    # ARM: Tag_CPU_arch of the .ARM.attributes "aeabi" section (10 = ARMv7, 5 = ARMv5TEJ).
    arm_cpu_arch: int | None = None
    # DT_RELR (packed relative relocations): only loaders of glibc >= 2.36 / musl >= 1.2.4
    # apply it; an older loader leaves those pointers unrelocated.
    relr: bool = False


@dataclass(frozen=True)
class DylibLoad:
    """One LC_LOAD_DYLIB-like command of a Mach-O slice."""

    name: str
    command: str  # LC_LOAD_DYLIB, LC_LOAD_WEAK_DYLIB, LC_REEXPORT_DYLIB, LC_LOAD_UPWARD_DYLIB

    @property
    def weak(self) -> bool:
        return self.command == "LC_LOAD_WEAK_DYLIB"


@dataclass(frozen=True)
class MachOSlice:
    """One architecture of a (possibly fat) Mach-O file (mach-o/loader.h)."""

    arch: str  # x86_64, arm64, arm64e, i386, ...
    offset: int  # of the slice within the file
    size: int
    filetype: str  # MH_BUNDLE, MH_DYLIB, MH_EXECUTE, ...
    install_id: str | None
    loads: tuple[DylibLoad, ...]
    rpaths: tuple[str, ...]
    platform: str | None  # macos, ios, ... (LC_BUILD_VERSION), macos for LC_VERSION_MIN_MACOSX
    minos: tuple[int, int, int] | None
    sdk: tuple[int, int, int] | None
    version_command: str | None  # LC_BUILD_VERSION or LC_VERSION_MIN_MACOSX
    signed: bool
    undefined: tuple[str, ...] = ()  # leading underscore stripped
    defined: frozenset[str] = frozenset()


@dataclass(frozen=True)
class MachOInfo:
    fat: bool
    slices: tuple[MachOSlice, ...]


@dataclass(frozen=True)
class PeInfo:
    """PE/COFF specifics (Microsoft PE format)."""

    machine: str  # IMAGE_FILE_MACHINE_AMD64, ...
    is_dll: bool
    imports: tuple[str, ...]  # DLL names in the import directory
    delay_imports: tuple[str, ...]
    checksum: int
    computed_checksum: int
    has_signature: bool
    overlay_size: int


@dataclass(frozen=True)
class Binary:
    """A parsed binary member of a wheel."""

    member: str
    format: Format
    # Architectures in the spelling of the platform's tags: x86_64, i686, aarch64 (Linux);
    # x86_64, arm64 (macOS); x86, x86_64, arm64 (Windows). Several for a fat Mach-O.
    archs: tuple[str, ...]
    # Libraries the dynamic loader must find, as the file names them (DT_NEEDED, the
    # install names of every slice, imported DLLs), in file order, without duplicates.
    dependencies: tuple[str, ...]
    imported: tuple[Symbol, ...] = ()
    exported: frozenset[str] = frozenset()
    is_executable: bool = False
    elf: ElfInfo | None = None
    macho: MachOInfo | None = None
    pe: PeInfo | None = None
    size: int = 0
    sha256: str = field(default="", compare=False)
