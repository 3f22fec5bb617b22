"""What one platform's rules conclude about one wheel, and the interface they implement."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from mwheel.audit.context import WheelContext
from mwheel.audit.findings import Finding
from mwheel.audit.resolve import DependencyGraph


@dataclass(frozen=True)
class PlatformVerdict:
    honoured: dict[str, bool]  # claimed platform tag -> honoured as the wheel is
    best_tag: str | None  # the most compatible tag the wheel honours as it is
    repair_tag: str | None  # the most compatible tag after grafting its external libraries
    graph: DependencyGraph
    findings: tuple[Finding, ...]
    arch: str = ""  # the architecture the binaries were judged for
    family: str = ""  # the tag family judged (manylinux, musllinux, macosx, win)


class PlatformRules(Protocol):
    """Audit rules of one operating system (Linux, macOS, Windows)."""

    os: str

    def evaluate(self, ctx: WheelContext) -> PlatformVerdict: ...
