"""The audit rules for each operating system, and the rules every wheel gets."""

from __future__ import annotations

from typing import Protocol

from mwheel.audit.abi3 import Abi3Rule
from mwheel.audit.context import WheelContext
from mwheel.audit.findings import Finding
from mwheel.audit.verdict import PlatformRules
from mwheel.binary.model import Binary, Format
from mwheel.lazy import LazyRegistry


class WheelRule(Protocol):
    """A check that applies whatever the platform (abi3)."""

    def check(self, ctx: WheelContext) -> list[Finding]: ...


OS_OF_FORMAT: dict[Format, str] = {"elf": "linux", "macho": "macos", "pe": "windows"}
# Other operating systems whose binaries share a format: Android's ELF (PEP 738), iOS's
# Mach-O (PEP 730). The wheel's tags say which one judges a binary.
OTHER_OSES: dict[Format, tuple[str, ...]] = {"elf": ("android",), "macho": ("ios",), "pe": ()}


def os_of(binary: Binary, claimed_oses: set[str]) -> str:
    """The operating system whose rules judge ``binary``: the claimed one of its format's,
    else the one the binary says (Mach-O build platform, Android's loader), else the first."""
    for os_name in OTHER_OSES[binary.format]:
        if os_name in claimed_oses:
            return os_name
    default = OS_OF_FORMAT[binary.format]
    if default in claimed_oses:
        return default
    if binary.macho is not None and any(
        s.platform in ("ios", "iossimulator") for s in binary.macho.slices
    ):
        return "ios"
    if binary.elf is not None and (binary.elf.interpreter or "").startswith("/system/bin/linker"):
        return "android"
    return default


def _instance(cls: object) -> PlatformRules:
    assert callable(cls)
    rules: PlatformRules = cls()
    return rules


# Imported on first use: auditing a Windows wheel loads neither the Linux policies nor the
# Mach-O rules.
RULES: LazyRegistry[str, PlatformRules] = LazyRegistry(
    {
        "linux": "mwheel.audit.linux:LinuxRules",
        "macos": "mwheel.audit.macos:MacOSRules",
        "windows": "mwheel.audit.windows:WindowsRules",
        "android": "mwheel.audit.android:AndroidRules",
        "ios": "mwheel.audit.ios:IOSRules",
    },
    _instance,
)

WHEEL_RULES: list[WheelRule] = [Abi3Rule()]
