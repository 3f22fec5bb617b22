"""The two per-format interfaces of repair: a planner per OS, a patcher per binary format."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from mwheel.audit.context import WheelContext
from mwheel.audit.verdict import PlatformVerdict
from mwheel.repair.model import FileEdit, PlatformPlan, RepairOptions


class Planner(Protocol):
    """Turns one OS's audit verdict into a plan. Pure: no I/O but reading host libraries'
    hashes, which the graft names depend on."""

    def plan(
        self, ctx: WheelContext, verdict: PlatformVerdict, options: RepairOptions
    ) -> PlatformPlan: ...


class Patcher(Protocol):
    """Applies one ``FileEdit`` to a binary, in place, in a private scratch file."""

    def apply(self, path: Path, edit: FileEdit) -> None: ...
