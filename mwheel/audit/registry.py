"""The audit rules for each operating system, and the rules every wheel gets."""

from __future__ import annotations

from typing import Protocol

from mwheel.audit.abi3 import Abi3Rule
from mwheel.audit.context import WheelContext
from mwheel.audit.findings import Finding
from mwheel.audit.linux import LinuxRules
from mwheel.audit.macos import MacOSRules
from mwheel.audit.verdict import PlatformRules
from mwheel.audit.windows import WindowsRules
from mwheel.binary.model import Format


class WheelRule(Protocol):
    """A check that applies whatever the platform (abi3)."""

    def check(self, ctx: WheelContext) -> list[Finding]: ...


OS_OF_FORMAT: dict[Format, str] = {"elf": "linux", "macho": "macos", "pe": "windows"}

RULES: dict[str, PlatformRules] = {
    "linux": LinuxRules(),
    "macos": MacOSRules(),
    "windows": WindowsRules(),
}

WHEEL_RULES: list[WheelRule] = [Abi3Rule()]
