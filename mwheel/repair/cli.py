"""Arguments and rendering of ``mwheel repair`` (the decisions live in ``repair_wheel``).

Besides mwheel's own names, the options take the spellings of auditwheel repair,
delocate-wheel and delvewheel repair (README: "Peers' spellings"), with the same meaning,
so cibuildwheel's default repair command of each works with the tool name replaced. An
option that has no meaning for a wheel's platform (``--require-archs`` on a Linux wheel) is
ignored with a note, never an error: one command line serves every platform.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mwheel.errors import MwheelError, OutputError, UsageError

if TYPE_CHECKING:
    # Imported when used: `mwheel audit` registers these options without loading repair.
    from mwheel.audit.context import AuditOptions
    from mwheel.repair.model import RepairOptions

# Globbing characters: a pattern without them matches as a substring of the library name
# (delocate's -e "any library whose path includes the string"; install names are paths).
_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class PlatformOption:
    """An option that means something for some operating systems' wheels only."""

    dest: str
    spelling: str
    oses: frozenset[str]
    unset: tuple[object, ...] = (None, False, "", [])  # the values that mean "not given"


PLATFORM_OPTIONS = (
    PlatformOption("require_archs", "--require-archs", frozenset({"macos"})),
    PlatformOption("require_target_macos", "--require-target-macos-version", frozenset({"macos"})),
    PlatformOption(
        "sanitize_rpaths", "--sanitize-rpaths/--no-sanitize-rpaths", frozenset({"macos"}), (None,)
    ),
    PlatformOption("executable_path", "--executable-path", frozenset({"macos"})),
    PlatformOption("no_mangle", "--no-mangle", frozenset({"windows"})),
    PlatformOption("no_mangle_all", "--no-mangle-all", frozenset({"windows"})),
    PlatformOption("include", "--include/--add-dll", frozenset({"windows"})),
    PlatformOption("namespace_pkg", "--namespace-pkg", frozenset({"windows"})),
    PlatformOption("disable_isa_ext_check", "--disable-isa-ext-check", frozenset({"linux"})),
)


def _split(values: list[str]) -> tuple[str, ...]:
    """Repeatable options whose values may also be ';'/':'-separated lists (delvewheel)."""
    return tuple(p.strip() for v in values for p in v.replace(":", ";").split(";") if p.strip())


def _macos_version(value: str) -> tuple[int, int]:
    major, _, minor = value.partition(".")
    if not major.isdigit() or not (minor or "0").isdigit():
        raise argparse.ArgumentTypeError(f"expected a macOS version like 11.0, got {value!r}")
    return (int(major), int(minor or "0"))


def _lib_sdir(value: str) -> str:
    if not value or "/" in value or "\\" in value or value in (".", ".."):
        raise argparse.ArgumentTypeError(f"not a directory name: {value!r}")
    return value


def add_repair_parser(sub: Any, add_lookup: Callable[[argparse.ArgumentParser], None]) -> None:
    from mwheel.cli import add_verbosity

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
        "-e",
        "--exclude",
        "--no-dll",
        action="append",
        default=[],
        metavar="GLOB",
        help="keep libraries matching GLOB (or containing the text) external; "
        "';'-separated lists too (repeatable)",
    )
    p.add_argument(
        "--include",
        "--add-dll",
        action="append",
        default=[],
        metavar="DLLS",
        help="Windows: vendor these DLLs even if they are system DLLs (';'-separated)",
    )
    p.add_argument(
        "-L",
        "--lib-sdir",
        type=_lib_sdir,
        metavar="NAME",
        help="Linux/Windows: suffix of <dist>NAME (default .libs); macOS: <package>/NAME "
        "(default .dylibs)",
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
        "--no-update-tags",
        action="store_true",
        help="keep the wheel's file name tags and WHEEL Tag lines",
    )
    p.add_argument(
        "--allow-pure-python-wheel",
        action="store_true",
        help="copy a wheel with no binary as it is instead of refusing it",
    )
    p.add_argument(
        "--ignore-missing-dependencies",
        action="store_true",
        help="libraries that cannot be found stay external (noted) instead of failing",
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
    p.add_argument(
        "--require-target-macos-version",
        dest="require_target_macos",
        type=_macos_version,
        metavar="X.Y",
        help="macOS: fail if the repaired wheel needs a newer macOS",
    )
    rpaths = p.add_mutually_exclusive_group()
    rpaths.add_argument(
        "--sanitize-rpaths",
        dest="sanitize_rpaths",
        action="store_const",
        const=True,
        help="macOS: drop absolute and build-tree LC_RPATHs (default)",
    )
    rpaths.add_argument(
        "--no-sanitize-rpaths",
        dest="sanitize_rpaths",
        action="store_const",
        const=False,
        help="macOS: keep every LC_RPATH",
    )
    p.add_argument(
        "-k",
        "--check-archs",
        action="store_true",
        help="delocate: check the libraries' architectures (mwheel always does)",
    )
    p.add_argument(
        "--ignore-existing",
        "--ignore-in-wheel",
        action="store_true",
        help="delvewheel: DLLs the wheel ships are used, never vendored again (always so)",
    )
    p.add_argument(
        "--analyze-existing",
        action="store_true",
        help="delvewheel: dependencies of DLLs the wheel ships are vendored (always so)",
    )
    p.add_argument(
        "--namespace-pkg",
        action="append",
        default=[],
        metavar="PKGS",
        help="delvewheel: namespace packages; mwheel never adds an __init__.py to any "
        "package (always so)",
    )
    add_verbosity(p)
    add_lookup(p)


def repair_options(args: argparse.Namespace) -> RepairOptions:
    from mwheel.repair.model import RepairOptions

    if args.only_plat and args.plat == "auto":
        raise UsageError("--only-plat needs --plat TAG")
    exclude = tuple(g if _GLOB_CHARS & set(g) else f"*{g}*" for g in _split(args.exclude))
    return RepairOptions(
        plat=args.plat,
        exclude=exclude,
        strip=args.strip,
        only_plat=args.only_plat,
        compresslevel=args.level,
        no_mangle=tuple(args.no_mangle),
        no_mangle_all=args.no_mangle_all,
        require_archs=tuple(a for a in args.require_archs.split(",") if a),
        lib_sdir=args.lib_sdir,
        update_tags=not args.no_update_tags,
        ignore_missing=args.ignore_missing_dependencies,
        sanitize_rpaths=args.sanitize_rpaths is not False,
        require_target_macos=args.require_target_macos,
        allow_pure=args.allow_pure_python_wheel,
    )


def _oses(tags: tuple[str, ...]) -> set[str]:
    out = set()
    for tag in tags:
        if tag.startswith(("manylinux", "musllinux", "linux")):
            out.add("linux")
        elif tag.startswith("macosx"):
            out.add("macos")
        elif tag.startswith("win"):
            out.add("windows")
    return out


def ignored_options(args: argparse.Namespace, platform_tags: tuple[str, ...]) -> list[str]:
    """Notes for the options given that mean nothing for this wheel's platform."""
    oses = _oses(platform_tags)
    if not oses:
        return []
    notes = []
    for opt in PLATFORM_OPTIONS:
        value = getattr(args, opt.dest, None)
        if value not in opt.unset and not (oses & opt.oses):
            where = ", ".join(sorted(opt.oses))
            notes.append(f"{opt.spelling} is for {where} wheels: ignored")
    return notes


def _progress_step(progress: Any, n: int, total: int, wheel: Path) -> Callable[..., None]:
    def step(phase: str, done: int, count: int, item: str) -> None:
        head = f"[{n}/{total}] {wheel.name}: " if total > 1 else f"{wheel.name}: "
        progress.show(f"{head}{phase} {done}/{count} {item}" if count > 1 else f"{head}{phase}")

    return step


def run_repair(args: argparse.Namespace, audit_options: AuditOptions) -> int:
    from dataclasses import replace

    from mwheel.cli import error_line
    from mwheel.progress import Progress
    from mwheel.repair import repair_wheel

    options = repair_options(args)
    audit_options = replace(audit_options, include=tuple(n.lower() for n in _split(args.include)))
    outputs: dict[Path, Path] = {}
    results: list[dict[str, Any]] = []
    worst = 0
    repaired = failed = unchanged = 0
    total = len(args.wheels)
    with Progress("repairing", enabled=not args.quiet) as progress:
        for n, wheel in enumerate(args.wheels, 1):

            def claim(final: Path, wheel: Path = wheel) -> None:
                if final in outputs:
                    raise OutputError(f"{wheel} and {outputs[final]} both repair to {final.name}")
                outputs[final] = wheel

            try:
                result = repair_wheel(
                    wheel,
                    args.wheel_dir,
                    options,
                    audit_options,
                    args.dry_run,
                    claim,
                    _progress_step(progress, n, total, wheel),
                )
            except MwheelError as exc:
                failed += 1
                results.append(
                    {"input": str(wheel), "error": exc.message, "exit_code": exc.exit_code}
                )
                progress.clear()
                print(error_line(wheel, exc.message), file=sys.stderr)
                worst = max(worst, exc.exit_code)
                continue
            if result.output is None and not args.dry_run:
                unchanged += 1  # a pure wheel: nothing to repair, nothing written
            else:
                repaired += 1
            ignored = ignored_options(args, result.plan.platform_tags)
            results.append(
                {
                    "input": str(wheel),
                    "output": str(result.output) if result.output else None,
                    "plan": result.plan.to_json(),
                    "ignored_options": ignored,
                }
            )
            if args.format == "text" and not args.quiet:
                progress.clear()
                print(_render(result, args.dry_run, ignored, args.verbose))
    if args.format == "json":
        print(json.dumps({"schema_version": 1, "repairs": results}, indent=2))
    elif total > 1:
        verb = "planned" if args.dry_run else "repaired"
        left = f", {unchanged} left as they are" if unchanged else ""
        print(f"{total} wheels: {repaired} {verb}, {failed} failed{left}")
    return worst


def _render(result: Any, dry_run: bool, ignored: list[str], verbose: int) -> str:
    from mwheel.report import humanize, render_text

    plan, output = result.plan, result.output
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
    for note in [*plan.notes, *ignored]:
        lines.append(f"  note: {note}")
    lines.append(f"  tags: {', '.join(plan.platform_tags)}")
    if verbose and output is not None:
        # The audit of what was written, as `mwheel audit` would print it.
        lines.append("  audit of the output:")
        lines += ["    " + line for line in render_text([result.report]).splitlines()]
    return humanize("\n".join(lines))
