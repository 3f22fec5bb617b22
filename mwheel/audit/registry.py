"""The audit rules for each operating system, and the rules every wheel gets."""

from __future__ import annotations

from typing import Protocol

from mwheel.audit.abi3 import Abi3Rule
from mwheel.audit.context import WheelContext
from mwheel.audit.findings import Finding
from mwheel.audit.verdict import PlatformRules
from mwheel.binary.model import Format
from mwheel.lazy import LazyRegistry


class WheelRule(Protocol):
    """A check that applies whatever the platform (abi3)."""

    def check(self, ctx: WheelContext) -> list[Finding]: ...


OS_OF_FORMAT: dict[Format, str] = {"elf": "linux", "macho": "macos", "pe": "windows"}


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
    },
    _instance,
)

WHEEL_RULES: list[WheelRule] = [Abi3Rule()]
