"""What one platform's rules conclude about one wheel, and the interface they implement.

A verdict that a claimed tag is not honoured always carries at least one error finding about
that tag: a user told "NOT COMPLIANT" must be told why. Rules give the specific reasons;
``explained`` is the net under them, so a reason a rule forgot still surfaces as an error
naming the tag instead of a bare verdict (tests assert the net never fires on real wheels).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
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


def explained(verdict: PlatformVerdict) -> PlatformVerdict:
    """``verdict`` with an error finding for every unhonoured tag that has none yet."""
    about = {f.tag for f in verdict.findings if f.severity == "error"}
    untagged_error = None in about
    missing = [
        tag
        for tag, ok in verdict.honoured.items()
        if not ok and tag not in about and not untagged_error
    ]
    if not missing:
        return verdict
    extra = tuple(
        Finding(
            "tag-not-honoured",
            None,
            f"the wheel does not honour {tag} (no more specific reason was found)",
            tag=tag,
        )
        for tag in missing
    )
    return replace(verdict, findings=verdict.findings + extra)
