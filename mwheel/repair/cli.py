"""Arguments and rendering of ``mwheel repair`` (the decisions live in ``repair_wheel``)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mwheel.audit.context import AuditOptions
from mwheel.errors import MwheelError, OutputError, UsageError
from mwheel.repair.model import RepairOptions


def add_repair_parser(sub: Any, add_lookup: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("repair", help="graft external libraries into wheels and retag them")
    p.add_argument("wheels", nargs="+", type=Path)
    p.add_argument(
        "-w",
        "--wheel-dir",
        type=Path,
        default=Path("wheelhouse"),
        help="output directory (default: wheelhouse)",
    )
    p.add_argument(
        "--plat", default="auto", help="platform tag to reach (default: auto, the best one)"
    )
    p.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="GLOB",
        help="keep libraries matching GLOB (on their name) external",
    )
    p.add_argument("--dry-run", action="store_true", help="print the plan, write nothing")
    p.add_argument("--strip", action="store_true", help="strip symbols of every edited file")
    p.add_argument(
        "-z",
        "--zip-compression-level",
        type=int,
        default=None,
        dest="level",
        choices=range(0, 10),
        metavar="LEVEL",
    )
    p.add_argument(
        "--only-plat", action="store_true", help="carry exactly --plat, not a more compatible tag"
    )
    p.add_argument(
        "--no-mangle",
        action="append",
        default=[],
        metavar="NAME",
        help="Windows: keep this DLL's name",
    )
    p.add_argument("--no-mangle-all", action="store_true", help="Windows: rename no DLL")
    p.add_argument(
        "--require-archs",
        default="",
        help="macOS: architectures every binary must have (comma separated)",
    )
    add_lookup(p)


def run_repair(args: argparse.Namespace, audit_options: AuditOptions) -> int:
    from mwheel.repair import repair_wheel

    if args.only_plat and args.plat == "auto":
        raise UsageError("--only-plat needs --plat TAG")
    options = RepairOptions(
        plat=args.plat,
        exclude=tuple(args.exclude),
        strip=args.strip,
        only_plat=args.only_plat,
        compresslevel=args.level,
        no_mangle=tuple(args.no_mangle),
        no_mangle_all=args.no_mangle_all,
        require_archs=tuple(a for a in args.require_archs.split(",") if a),
    )
    outputs: dict[Path, Path] = {}
    results: list[dict[str, Any]] = []
    worst = 0
    for wheel in args.wheels:

        def claim(final: Path, wheel: Path = wheel) -> None:
            if final in outputs:
                raise OutputError(f"{wheel} and {outputs[final]} both repair to {final.name}")
            outputs[final] = wheel

        try:
            result = repair_wheel(
                wheel, args.wheel_dir, options, audit_options, args.dry_run, claim
            )
        except MwheelError as exc:
            results.append({"input": str(wheel), "error": exc.message, "exit_code": exc.exit_code})
            if args.format == "text":
                print(f"{wheel}: error: {exc.message}")
            worst = max(worst, exc.exit_code)
            continue
        entry = {
            "input": str(wheel),
            "output": str(result.output) if result.output else None,
            "plan": result.plan.to_json(),
        }
        results.append(entry)
        if args.format == "text":
            print(_render(result.plan, result.output, args.dry_run))
    if args.format == "json":
        print(json.dumps({"schema_version": 1, "repairs": results}, indent=2))
    return worst


def _render(plan: Any, output: Path | None, dry_run: bool) -> str:
    lines = [
        f"{plan.wheel} -> {output if output else plan.output_name}"
        + (" (dry run: nothing written)" if dry_run else "")
    ]
    for g in plan.grafts:
        lines.append(f"  graft {g.source} -> {g.member}")
    for e in plan.edits:
        changes = "; ".join(e.describe())
        if changes:
            lines.append(f"  edit {e.member}: {changes}")
    for name, _ in plan.files:
        lines.append(f"  write {name}")
    for note in plan.notes:
        lines.append(f"  note: {note}")
    lines.append(f"  tags: {', '.join(plan.platform_tags)}")
    return "\n".join(lines)
