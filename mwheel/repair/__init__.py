"""Repairing wheels: ``repair_wheel(path, out_dir, options)`` (see ``driver.py``).

The names are loaded on first use, so that the command line can register ``mwheel repair``
without importing every planner and patcher when it only audits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mwheel.repair.driver import RepairResult, apply_plan, plan_repair, repair_wheel

__all__ = ["RepairResult", "apply_plan", "plan_repair", "repair_wheel"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from mwheel.repair import driver

        return getattr(driver, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
