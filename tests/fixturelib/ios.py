"""iOS wheels (PEP 730) built at test time from ``fixtures/ios``.

zig targets iOS (``aarch64-ios.13.0``, ``x86_64-ios.13.0-simulator``) and writes
LC_BUILD_VERSION with platform IOS (2) or IOSSIMULATOR (7) and the minos of the target: the
self-contained extensions are built that way. zig 0.17's Mach-O linker crashes when an iOS
file links another dylib, so the extensions that load a dylib are built for macOS and their
LC_BUILD_VERSION platform and minos rewritten here (``as_ios``), the fallback the issue
names; the stale ad-hoc signature does not matter on iOS, where the app's build signs.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from pathlib import Path

from .build import compile_c
from .wheels import make_wheel

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "ios"
LC_BUILD_VERSION = 0x32
PLATFORMS = {"macos": 1, "iphoneos": 2, "iphonesimulator": 7}
_ZIG_ARCH = {"arm64": "aarch64", "x86_64": "x86_64"}


def zig_target(arch: str, sdk: str, version: str) -> str:
    suffix = "-simulator" if sdk == "iphonesimulator" else ""
    return f"{_ZIG_ARCH[arch]}-ios.{version}{suffix}"


def plain_extension(arch: str, sdk: str, version: str = "13.0") -> Path:
    """A zig-built iOS MH_DYLIB extension needing only libSystem."""
    return compile_c(
        [FIXTURES / "ext_plain.c"],
        "_ext.so",
        compiler="zig",
        target=zig_target(arch, sdk, version),
        include_python=False,
        extra_args=["-nostdlib"],
    )


def as_ios(data: bytes, sdk: str, minos: tuple[int, int]) -> bytes:
    """A thin 64-bit Mach-O file with its LC_BUILD_VERSION platform and minos replaced."""
    out = bytearray(data)
    magic, _, _, _, ncmds, _, _ = struct.unpack_from("<7I", out, 0)
    assert magic == 0xFEEDFACF, "a thin 64-bit little-endian Mach-O file"
    offset = 32
    for _ in range(ncmds):
        cmd, size = struct.unpack_from("<2I", out, offset)
        if cmd == LC_BUILD_VERSION:
            struct.pack_into("<2I", out, offset + 8, PLATFORMS[sdk], minos[0] << 16 | minos[1] << 8)
            return bytes(out)
        offset += size
    raise ValueError("no LC_BUILD_VERSION")


def dep_pair(arch: str, install_name: str) -> tuple[Path, Path]:
    """(dylib, extension loading it by ``install_name``), both macOS-built (see above)."""
    target = f"{_ZIG_ARCH[arch]}-macos.13.0" if arch == "arm64" else "x86_64-macos.13.0"
    lib = compile_c(
        [FIXTURES / "dep_lib.c"],
        "libmwiosdep.dylib",
        compiler="zig",
        target=target,
        include_python=False,
        extra_args=[f"-Wl,-install_name,{install_name}"],
    )
    ext = compile_c(
        [FIXTURES / "ext_dep.c"],
        "_ext.so",
        compiler="zig",
        target=target,
        include_python=False,
        libs=["mwiosdep"],
        lib_dirs=[lib.parent],
        extra_args=["-Wl,-rpath,@loader_path/.dylibs"],
    )
    return lib, ext


def ios_wheel(
    dest: Path, tag: str, ext: bytes | Path, extra: Mapping[str, bytes | Path] | None = None
) -> Path:
    """``mwios`` with ``ext`` as ``mwios/_ext.cpython-313-<sdk>.so`` (the tag's SDK)."""
    sdk = tag.rsplit("_", 1)[1]
    members: dict[str, bytes | Path] = {
        "mwios/__init__.py": b"",
        f"mwios/_ext.cpython-313-{sdk}.so": ext,
    }
    members.update(extra or {})
    return make_wheel(dest, "mwios", "1.0", f"cp313-cp313-{tag}", members)
