"""Arguments of ``mwheel generate-ci`` (maturin's names) -> one ``github_workflow`` call."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from mwheel.build.ci import CiOptions, github_workflow, platform_names
from mwheel.errors import OutputError


def add_ci_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("ci", choices=["github"])
    p.add_argument("-m", "--manifest-path", type=Path, help="Cargo.toml of the crate")
    p.add_argument(
        "--platform",
        nargs="+",
        default=[],
        choices=platform_names(),
        metavar="PLATFORM",
        help=f"one or more of {', '.join(platform_names())} "
        "(default: manylinux musllinux windows macos)",
    )
    p.add_argument("--pytest", action="store_true", help="test every built wheel with pytest")
    p.add_argument("--zig", action="store_true", help="accepted; Linux builds always use zig")
    p.add_argument(
        "--mwheel-find-links",
        type=Path,
        metavar="DIR",
        help="install mwheel from the wheel in this repository directory before PyPI "
        "(default: tools/ when it holds this version's wheel)",
    )
    p.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")


def _write(path: Path, text: str) -> None:
    """Write through a temporary file in the same directory: never a half-written workflow."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError as exc:
        raise OutputError(f"{path}: cannot write: {exc}") from None


def run(args: argparse.Namespace) -> int:
    options = CiOptions(
        platforms=tuple(args.platform),
        pytest=args.pytest,
        zig=args.zig,
        manifest_path=args.manifest_path,
        mwheel_find_links=args.mwheel_find_links,
    )
    result = github_workflow(options)
    for warning in result.plan.warnings:
        print(f"mwheel: warning: {warning}", file=sys.stderr)
    if args.output is None:
        print(result.text, end="")
    else:
        _write(args.output, result.text)
    return 0
