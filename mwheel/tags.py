"""Structured platform tags (PEP 425, 513, 571, 599, 600, 656, 730, 738, macOS/Windows tags).

A tag string is parsed once into a ``PlatformTag`` and printed back the same way, so the
audit compares numbers, never strings. Nothing here looks at the host: mwheel judges
wheels for other machines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mwheel.errors import TagError

# PEP 513/571/599 legacy names and the glibc version each stands for.
LEGACY_MANYLINUX = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}
_LEGACY_BY_VERSION = {v: k for k, v in LEGACY_MANYLINUX.items()}
# Architectures the legacy names were defined for (PEP 513, 571, 599).
_LEGACY_ARCHS = {
    "manylinux1": {"x86_64", "i686"},
    "manylinux2010": {"x86_64", "i686"},
    "manylinux2014": {"x86_64", "i686", "aarch64", "ppc64le", "ppc64", "s390x", "armv7l"},
}

# macOS multi-architecture names and the architectures each stands for.
MACOS_ARCH_GROUPS: dict[str, frozenset[str]] = {
    "universal2": frozenset({"x86_64", "arm64"}),
    "intel": frozenset({"x86_64", "i386"}),
    "universal": frozenset({"x86_64", "i386", "ppc64", "ppc"}),
    "fat": frozenset({"i386", "ppc"}),
    "fat3": frozenset({"x86_64", "i386", "ppc"}),
    "fat64": frozenset({"x86_64", "ppc64"}),
}

WINDOWS_ARCHS = {"win32": "x86", "win_amd64": "x86_64", "win_arm64": "arm64", "win_ia64": "ia64"}

_LINUX_RE = re.compile(r"^(manylinux|musllinux)_(\d+)_(\d+)_([a-z0-9_]+)$")
_LEGACY_RE = re.compile(r"^(manylinux1|manylinux2010|manylinux2014)_([a-z0-9_]+)$")
_MACOS_RE = re.compile(r"^macosx_(\d+)_(\d+)_([a-z0-9_]+)$")
# PEP 738: android_<API level>_<ABI>, the ABI names of the Android NDK.
ANDROID_ABIS = ("arm64_v8a", "x86_64", "armeabi_v7a", "x86")
_ANDROID_RE = re.compile(r"^android_(\d+)_(" + "|".join(ANDROID_ABIS) + r")$")
# PEP 730: ios_<major>_<minor>_<arch>_<sdk>; the arch of a PlatformTag keeps the SDK
# ("arm64_iphonesimulator"), since a device and a simulator binary are not interchangeable.
IOS_SDKS = ("iphoneos", "iphonesimulator")
_IOS_RE = re.compile(r"^ios_(\d+)_(\d+)_((?:arm64|x86_64)_(?:iphoneos|iphonesimulator))$")


@dataclass(frozen=True, order=True)
class PlatformTag:
    """One platform tag: family (manylinux, musllinux, linux, macosx, win, any), version, arch.

    ``version`` is the glibc version for manylinux, the musl version for musllinux, the
    minimum macOS version for macosx, (API level, 0) for android and the minimum iOS version
    for ios; ``None`` for linux, win and any.
    """

    family: str
    version: tuple[int, int] | None
    arch: str

    @classmethod
    def parse(cls, text: str) -> PlatformTag:
        t = text.strip().lower().replace("-", "_").replace(".", "_")
        if m := _LINUX_RE.match(t):
            return cls(m[1], (int(m[2]), int(m[3])), m[4])
        if m := _LEGACY_RE.match(t):
            return cls("manylinux", LEGACY_MANYLINUX[m[1]], m[2])
        if t.startswith("linux_") and len(t) > 6:
            return cls("linux", None, t[6:])
        if m := _MACOS_RE.match(t):
            return cls("macosx", (int(m[1]), int(m[2])), m[3])
        if m := _ANDROID_RE.match(t):
            return cls("android", (int(m[1]), 0), m[2])
        if m := _IOS_RE.match(t):
            return cls("ios", (int(m[1]), int(m[2])), m[3])
        if t in WINDOWS_ARCHS:
            return cls("win", None, WINDOWS_ARCHS[t])
        if t == "any":
            return cls("any", None, "any")
        raise TagError(f"unknown platform tag {text!r}")

    @property
    def name(self) -> str:
        if self.family in ("manylinux", "musllinux"):
            assert self.version is not None
            return f"{self.family}_{self.version[0]}_{self.version[1]}_{self.arch}"
        if self.family == "macosx":
            assert self.version is not None
            return f"macosx_{self.version[0]}_{self.version[1]}_{self.arch}"
        if self.family == "android":
            assert self.version is not None
            return f"android_{self.version[0]}_{self.arch}"
        if self.family == "ios":
            assert self.version is not None
            return f"ios_{self.version[0]}_{self.version[1]}_{self.arch}"
        if self.family == "win":
            return {v: k for k, v in WINDOWS_ARCHS.items()}[self.arch]
        if self.family == "linux":
            return f"linux_{self.arch}"
        return "any"

    @property
    def legacy_name(self) -> str | None:
        """The PEP 513/571/599 alias (``manylinux2014_x86_64``) where one exists."""
        if self.family != "manylinux" or self.version not in _LEGACY_BY_VERSION:
            return None
        legacy = _LEGACY_BY_VERSION[self.version]
        return f"{legacy}_{self.arch}" if self.arch in _LEGACY_ARCHS[legacy] else None

    @property
    def is_linux(self) -> bool:
        return self.family in ("manylinux", "musllinux", "linux")

    @property
    def os(self) -> str:
        """The operating system the tag is for: linux, macos, windows, android, ios or any."""
        return {
            "macosx": "macos",
            "win": "windows",
            "any": "any",
            "android": "android",
            "ios": "ios",
        }.get(self.family, "linux")

    def __str__(self) -> str:
        return self.name


def names_with_aliases(tag: PlatformTag) -> list[str]:
    """The names a wheel carrying ``tag`` should list: the canonical one and its legacy alias."""
    legacy = tag.legacy_name
    return [tag.name, legacy] if legacy else [tag.name]
