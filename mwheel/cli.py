"""The command line: parse, call one library function, render, map errors to exit codes.

No decision lives here: every subcommand is one call of mwheel's Python API. The peers'
spellings (auditwheel, delocate, delvewheel, abi3audit) are accepted as aliases of mwheel's
own options, so one cibuildwheel command line works whichever tool it was written for; the
table of aliases is in the README.

Start-up matters (CI runs ``mwheel audit`` once per wheel): this module imports nothing of
the audit or repair machinery until the subcommand is known, and registers ``build``'s
options only when they can be used (the build command itself or ``--help``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mwheel import __version__
from mwheel.errors import MwheelError, UsageError

if TYPE_CHECKING:
    from mwheel.audit import WheelReport
    from mwheel.audit.context import AuditOptions

BUILD_COMMANDS = ("build", "sdist", "generate-ci")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


def _path_list(value: str) -> list[Path]:
    """A list of directories as the peers write it: ``os.pathsep`` (auditwheel's
    ``--ldpaths``) or ``;`` (delvewheel's ``--add-path`` on Windows)."""
    parts = value.replace(";", os.pathsep).split(os.pathsep)
    return [Path(p) for p in parts if p]


def _abi3_version(value: str) -> tuple[int, int]:
    major, _, minor = value.partition(".")
    if major != "3" or not minor.isdigit():
        raise argparse.ArgumentTypeError(f"expected 3.X, got {value!r}")
    return (3, int(minor))


def add_verbosity(p: argparse.ArgumentParser) -> None:
    """``-v/--verbose`` and ``-q/--quiet`` (every subcommand has them)."""
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "-v", "--verbose", action="count", default=0, help="say more (delocate, delvewheel: -v)"
    )
    group.add_argument(
        "-q", "--quiet", action="store_true", help="print only errors and the summary line"
    )


def add_format(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument(
        "--json",
        dest="format",
        action="store_const",
        const="json",
        help="same as --format json (auditwheel show --json)",
    )


def _add_lookup_options(p: argparse.ArgumentParser) -> None:
    """Where libraries are looked for and how the audit judges them (audit, repair, build)."""
    p.add_argument(
        "--lib-path",
        action="append",
        default=[],
        metavar="DIR",
        type=Path,
        help="look for external libraries here (repeatable)",
    )
    p.add_argument(
        "--ldpaths",
        type=_path_list,
        metavar="DIRS",
        help="auditwheel: these directories only (':' separated): --lib-path DIR... --no-host-libs",
    )
    p.add_argument(
        "--add-path",
        action="append",
        default=[],
        type=_path_list,
        metavar="DIRS",
        help="delvewheel: more directories (';' or ':' separated): --lib-path",
    )
    p.add_argument(
        "--no-host-libs",
        action="store_true",
        help="never look for libraries on this machine's library path",
    )
    p.add_argument(
        "-j", "--jobs", type=int, default=0, help="processes to use (default: one per core)"
    )
    p.add_argument(
        "--disable-isa-ext-check",
        action="store_true",
        help="do not judge the x86-64 ISA level of GNU property notes (auditwheel)",
    )
    p.add_argument(
        "--executable-path",
        metavar="PATH",
        help="macOS: where @executable_path points for extensions (delocate)",
    )
    p.add_argument(
        "--assume-minimum-abi3",
        type=_abi3_version,
        metavar="3.X",
        help="abi3 floor when the wheel's tags name none (abi3audit)",
    )
    p.add_argument(
        "--provided-by",
        action="append",
        default=[],
        metavar="SONAME=DIST",
        help="a declared dependency DIST installs the library SONAME (a glob): it is neither "
        "external nor grafted (repeatable; also [tool.mwheel.provided-by] of --providers FILE)",
    )
    p.add_argument(
        "--providers",
        type=Path,
        metavar="FILE",
        help="TOML file of SONAME = DIST mappings ([provided-by] or [tool.mwheel.provided-by]; "
        "default: ./pyproject.toml when it has the latter)",
    )
    p.add_argument(
        "--find-links",
        action="append",
        default=[],
        type=Path,
        metavar="PATH",
        help="wheels (or directories of wheels) of the dependencies: their RECORD says which "
        "libraries they provide (repeatable)",
    )
    p.add_argument(
        "--index-url",
        metavar="URL",
        help="ask this index (PEP 691) what the dependencies provide; no network use without it",
    )
    p.add_argument(
        "-S",
        "--strict",
        action="store_true",
        help="abi3audit: fail when a wheel cannot be audited (mwheel always does)",
    )
    add_format(p)


def _add_audit_parser(sub: Any) -> None:
    audit = sub.add_parser(
        "audit", aliases=["show"], help="check that wheels honour their platform tags"
    )
    audit.add_argument("wheels", nargs="+", type=Path)
    add_verbosity(audit)
    audit.add_argument(
        "-a",
        "--all",
        action="store_true",
        help="list every dependency, system libraries too (delocate-listdeps -a)",
    )
    audit.add_argument(
        "-d",
        "--depending",
        action="store_true",
        help="list which binaries load each library (delocate-listdeps -d)",
    )
    _add_lookup_options(audit)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; ``command`` (when known) spares importing other subcommands' modules."""
    parser = _Parser(
        prog="mwheel",
        description="Audit, repair and build Python binary wheels for Linux, macOS and "
        "Windows, from any host.",
    )
    parser.add_argument("--version", action="version", version=f"mwheel {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_audit_parser(sub)
    if command is None or command == "repair":
        from mwheel.repair.cli import add_repair_parser

        add_repair_parser(sub, _add_lookup_options)
    else:
        sub.add_parser("repair", help="(see mwheel repair --help)")
    if command is None or command in BUILD_COMMANDS:
        from mwheel.build.cli import add_build_parser

        add_build_parser(sub, _add_lookup_options)
        for name in ("sdist", "generate-ci"):
            add_verbosity(sub.choices[name])
        add_format(sub.choices["sdist"])
    else:
        for name in BUILD_COMMANDS:
            sub.add_parser(name, help=f"(see mwheel {name} --help)")
    return parser


def audit_options(args: argparse.Namespace) -> AuditOptions:
    """The library's options from the parsed flags, peers' spellings folded in."""
    from mwheel.audit.context import AuditOptions

    if args.jobs < 0:
        raise UsageError("--jobs must be 0 or more")
    lib_paths = list(args.lib_path)
    for dirs in args.add_path:
        lib_paths += dirs
    host_libs = not args.no_host_libs
    if args.ldpaths is not None:
        # auditwheel: --ldpaths replaces the default search path.
        lib_paths += args.ldpaths
        host_libs = False
    return AuditOptions(
        lib_paths=tuple(lib_paths),
        host_libs=host_libs,
        jobs=args.jobs,
        isa_check=not args.disable_isa_ext_check,
        executable_path=args.executable_path,
        assume_minimum_abi3=args.assume_minimum_abi3,
        provided_by=_provider_mappings(args),
        find_links=tuple(args.find_links),
        index_url=args.index_url,
    )


def _may_map_providers(pyproject: Path) -> bool:
    """Whether the project's file can hold a ``provided-by`` table. Without that text the key
    can only be spelled through a backslash escape, so a file with neither is not parsed:
    most projects have no mappings, and TOML plus the providers module cost start-up time."""
    try:
        text = pyproject.read_bytes()
    except OSError:  # absent, a directory, unreadable: as before, no mappings
        return False
    return b"provided-by" in text or b"\\" in text


def _provider_mappings(args: argparse.Namespace) -> tuple[tuple[str, str], ...]:
    """--provided-by pairs after those of the mapping file (or of ./pyproject.toml)."""
    pyproject = Path("pyproject.toml")
    in_project = args.providers is None and _may_map_providers(pyproject)
    if not (args.providers or args.provided_by or in_project):
        return ()
    from mwheel.audit.providers import mappings_from_toml, parse_mapping

    mappings: list[tuple[str, str]] = []
    if args.providers is not None:
        mappings += mappings_from_toml(args.providers)
    elif in_project:
        # The project's own file: cibuildwheel runs the repair in the project directory.
        # Not named by the user, so a file mwheel cannot read is no reason to fail.
        with contextlib.suppress(MwheelError):
            mappings += mappings_from_toml(pyproject)
    mappings += [parse_mapping(m) for m in args.provided_by]
    return tuple(mappings)


def error_line(path: Path, message: str) -> str:
    """``mwheel: error: <wheel>: <why>``, the wheel named once whatever the message says."""
    if str(path) in message or path.name in message:
        return f"mwheel: error: {message}"
    return f"mwheel: error: {path}: {message}"


def audit_summary(reports: list[WheelReport]) -> str:
    """``6 wheels: 5 compliant, 1 not`` (and how many could not be read)."""
    from mwheel.report import summary

    n = summary(reports)
    line = f"{n['wheels']} wheels: {n['compliant']} compliant, {n['not_compliant']} not"
    return line + (f", {n['errors']} unreadable" if n["errors"] else "")


def run_audit(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from mwheel.audit import audit_wheels
    from mwheel.progress import Progress
    from mwheel.report import render_json, render_text

    options = audit_options(args)
    if args.all or args.depending:
        options = replace(options, jobs=1)  # the dependency graphs stay in this process
    with Progress("auditing", enabled=not args.quiet) as progress:
        reports = audit_wheels(list(args.wheels), options, progress.update)
    for report in reports:
        if report.error is not None:
            print(error_line(report.path, report.error.message), file=sys.stderr)
    if args.format == "json":
        print(render_json(reports))
    else:
        good = [r for r in reports if r.error is None]
        if not args.quiet and good:
            print(render_text(good, args.verbose > 0, deps=args.all, depending=args.depending))
        if len(reports) > 1:
            print(("\n" if good and not args.quiet else "") + audit_summary(reports))
    codes = [r.exit_code for r in reports]
    errors = [c for c in codes if c >= 2]
    return max(errors) if errors else max(codes, default=0)


def _command_of(argv: Sequence[str]) -> str | None:
    """The subcommand: the first argument that is not an option (top-level options take no
    value)."""
    return next((a for a in argv if not a.startswith("-")), None)


def _hyphenated(arg: str) -> str:
    """``--lib_sdir`` -> ``--lib-sdir``: the peers' underscore spellings of long options."""
    if not arg.startswith("--"):
        return arg
    name, eq, value = arg.partition("=")
    return name.replace("_", "-") + eq + value


def main(argv: Sequence[str] | None = None) -> int:
    argv = [_hyphenated(a) for a in (sys.argv[1:] if argv is None else argv)]
    try:
        if argv == ["--version"]:
            # The commonest probe of a tool: answered before any parser is built.
            print(f"mwheel {__version__}")
            return 0
        args = build_parser(_command_of(argv)).parse_args(argv)
        if args.command in ("audit", "show"):
            return run_audit(args)
        if args.command == "repair":
            from mwheel.repair.cli import run_repair

            return run_repair(args, audit_options(args))
        if args.command in BUILD_COMMANDS:
            from mwheel.build.cli import run_build

            return run_build(args)
        raise UsageError(f"unknown command {args.command}")
    except MwheelError as exc:
        print(f"mwheel: error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # Output piped into `head`: not an error of mwheel's.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def entrypoint() -> None:
    sys.exit(main())
