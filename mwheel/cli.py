"""The command line: parse, call one library function, render, map errors to exit codes.

No decision lives here: every subcommand is one call of mwheel's Python API.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from mwheel import __version__
from mwheel.audit import audit_wheels
from mwheel.audit.context import AuditOptions
from mwheel.errors import MwheelError, UsageError
from mwheel.progress import Progress
from mwheel.report import render_json, render_text


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


def _add_lookup_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--lib-path",
        action="append",
        default=[],
        metavar="DIR",
        type=Path,
        help="look for external libraries here (repeatable)",
    )
    p.add_argument(
        "--no-host-libs",
        action="store_true",
        help="never look for libraries on this machine's library path",
    )
    p.add_argument(
        "-j", "--jobs", type=int, default=0, help="processes to use (default: one per core)"
    )
    p.add_argument("--format", choices=["text", "json"], default="text")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="mwheel",
        description="Audit, repair and build Python binary wheels for Linux, macOS and "
        "Windows, from any host.",
    )
    parser.add_argument("--version", action="version", version=f"mwheel {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    audit = sub.add_parser(
        "audit", aliases=["show"], help="check that wheels honour their platform tags"
    )
    audit.add_argument("wheels", nargs="+", type=Path)
    audit.add_argument("-v", "--verbose", action="store_true")
    _add_lookup_options(audit)
    from mwheel.repair.cli import add_repair_parser

    add_repair_parser(sub, _add_lookup_options)
    from mwheel.build.cli import add_build_parser

    add_build_parser(sub, _add_lookup_options)
    return parser


def _options(args: argparse.Namespace) -> AuditOptions:
    if args.jobs < 0:
        raise UsageError("--jobs must be 0 or more")
    return AuditOptions(
        lib_paths=tuple(args.lib_path), host_libs=not args.no_host_libs, jobs=args.jobs
    )


def run_audit(args: argparse.Namespace) -> int:
    with Progress("auditing") as progress:
        reports = audit_wheels(list(args.wheels), _options(args), progress.update)
    out = render_json(reports) if args.format == "json" else render_text(reports, args.verbose)
    print(out)
    codes = [r.exit_code for r in reports]
    errors = [c for c in codes if c >= 2]
    return max(errors) if errors else max(codes, default=0)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.command in ("audit", "show"):
            return run_audit(args)
        from mwheel.repair.cli import run_repair

        if args.command == "repair":
            return run_repair(args, _options(args))
        if args.command in ("build", "sdist", "generate-ci"):
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
