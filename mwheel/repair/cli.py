"""Arguments of ``mwheel repair`` (kept beside the repair API they feed)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from mwheel.audit.context import AuditOptions
from mwheel.errors import UsageError


def add_repair_parser(sub: Any, add_lookup: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("repair", help="graft external libraries and retag")
    p.add_argument("wheels", nargs="+")
    add_lookup(p)


def run_repair(args: argparse.Namespace, options: AuditOptions) -> int:
    raise UsageError("repair is not available yet")
