"""The repair planner of each operating system and the patcher of each binary format."""

from __future__ import annotations

from mwheel.binary.model import Format
from mwheel.repair.protocols import Patcher, Planner

PLANNERS: dict[str, Planner] = {}
PATCHERS: dict[Format, Patcher] = {}


def _register() -> None:
    # Imported here so that each module can import this registry without a cycle.
    from mwheel.repair.elf_patch import ElfPatcher
    from mwheel.repair.linux import LinuxPlanner

    PLANNERS["linux"] = LinuxPlanner()
    PATCHERS["elf"] = ElfPatcher()


_register()
