"""The repair planner of each operating system and the patcher of each binary format."""

from __future__ import annotations

from mwheel.binary.model import Format
from mwheel.repair.protocols import Patcher, Planner

PLANNERS: dict[str, Planner] = {}
PATCHERS: dict[Format, Patcher] = {}


def _register() -> None:
    # Imported here so that each module can import this registry without a cycle.
    from mwheel.repair.android import AndroidPlanner
    from mwheel.repair.elf_patch import ElfPatcher
    from mwheel.repair.linux import LinuxPlanner
    from mwheel.repair.macho_patch import MachOPatcher
    from mwheel.repair.macos import MacOSPlanner
    from mwheel.repair.pe_patch import PePatcher
    from mwheel.repair.windows import WindowsPlanner

    PLANNERS["linux"] = LinuxPlanner()
    PLANNERS["android"] = AndroidPlanner()  # Linux's ELF grafting, Android's tags (PEP 738)
    PATCHERS["elf"] = ElfPatcher()
    PLANNERS["macos"], PATCHERS["macho"] = MacOSPlanner(), MachOPatcher()
    PLANNERS["windows"], PATCHERS["pe"] = WindowsPlanner(), PePatcher()


_register()
