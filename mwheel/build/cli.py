"""Arguments of ``mwheel build`` (named as maturin names them) -> one ``build_wheels`` call."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mwheel.build.config import AUDITWHEEL_MODES, BINDINGS
from mwheel.build.options import BuildOptions


def _split_features(values: list[str]) -> tuple[str, ...]:
    return tuple(f for v in values for f in v.replace(",", " ").split() if f)


def add_build_options(p: argparse.ArgumentParser) -> None:
    """The options shared by ``mwheel build`` and the backend's MWHEEL_BUILD_ARGS."""
    p.add_argument("-m", "--manifest-path", type=Path, help="Cargo.toml of the crate")
    p.add_argument("-o", "--out", type=Path, help="output directory (default: target/wheels)")
    p.add_argument("-r", "--release", action="store_true", help="build the release profile")
    p.add_argument("--profile", help="cargo profile to build")
    p.add_argument(
        "-F",
        "--features",
        action="append",
        default=[],
        help="cargo features to enable (space or comma separated, repeatable)",
    )
    p.add_argument("--all-features", action="store_true")
    p.add_argument("--no-default-features", action="store_true")
    p.add_argument(
        "--target",
        help="Rust target triple (default: the host's): Linux gnu/musl targets, "
        "*-apple-darwin, universal2-apple-darwin, *-pc-windows-msvc/gnu",
    )
    p.add_argument(
        "-i",
        "--interpreter",
        action="append",
        default=[],
        help="Python interpreter to build for (repeatable)",
    )
    p.add_argument(
        "-f",
        "--find-interpreter",
        action="store_true",
        help="build for every python3.X found on PATH",
    )
    p.add_argument(
        "-b",
        "--bindings",
        choices=BINDINGS,
        help="bindings (default: detected from the crate's dependencies)",
    )
    p.add_argument("--strip", action="store_true", help="strip the binaries' symbols")
    p.add_argument(
        "--compatibility",
        nargs="+",
        default=[],
        metavar="TAG",
        help="manylinux_x_y (or manylinux2014...), musllinux_x_y, linux/off, pypi",
    )
    p.add_argument(
        "--auditwheel",
        choices=AUDITWHEEL_MODES,
        help="repair (default), check, warn or skip the audit",
    )
    p.add_argument(
        "--zig",
        action="store_true",
        help="link with zig cc (against the compatibility tag's glibc, or musl)",
    )
    p.add_argument("--locked", action="store_true", help="passed to cargo")
    p.add_argument("--frozen", action="store_true", help="passed to cargo")
    p.add_argument("--offline", action="store_true", help="passed to cargo")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("-v", "--verbose", action="store_true")


def add_build_parser(sub: Any, add_lookup: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser(
        "build", help="build wheels from a Rust crate (pyo3, cffi, uniffi, bin) with cargo"
    )
    add_build_options(p)
    p.add_argument("--sdist", action="store_true", help="also build a source distribution")
    add_lookup(p)
    add_sdist_parser(sub)
    add_ci_parser(sub)


def add_sdist_parser(sub: Any) -> None:
    p = sub.add_parser("sdist", help="build a source distribution of a Rust crate")
    p.add_argument("-m", "--manifest-path", type=Path, help="Cargo.toml of the crate")
    p.add_argument("-o", "--out", type=Path, help="output directory (default: target/wheels)")


def add_ci_parser(sub: Any) -> None:
    from mwheel.build.ci.cli import add_ci_arguments

    p = sub.add_parser("generate-ci", help="write a CI workflow that builds the wheels")
    add_ci_arguments(p)


def run_sdist(args: argparse.Namespace) -> int:
    from mwheel.build.sdist import build_sdist

    print_built(
        args, [build_sdist(BuildOptions(manifest_path=args.manifest_path, out_dir=args.out))]
    )
    return 0


def print_built(args: argparse.Namespace, paths: list[Path]) -> None:
    """``built <path>`` lines, or with ``--format json`` one document on stdout:
    ``{"schema_version": 1, "built": [paths]}`` (cargo's own output goes to stderr)."""
    if getattr(args, "format", "text") == "json":
        import json

        print(json.dumps({"schema_version": 1, "built": [str(p) for p in paths]}, indent=2))
        return
    for path in paths:
        print(f"built {path}")


def run_generate_ci(args: argparse.Namespace) -> int:
    from mwheel.build.ci.cli import run

    return run(args)


def options_from_args(args: argparse.Namespace) -> BuildOptions:
    return BuildOptions(
        manifest_path=args.manifest_path,
        out_dir=args.out,
        release=args.release,
        profile=args.profile,
        features=_split_features(args.features),
        all_features=args.all_features,
        no_default_features=args.no_default_features,
        target=args.target,
        interpreters=tuple(args.interpreter),
        find_interpreter=args.find_interpreter,
        bindings=args.bindings,
        strip=args.strip,
        compatibility=tuple(args.compatibility),
        auditwheel=args.auditwheel,
        zig=args.zig,
        sdist=getattr(args, "sdist", False),
        quiet=args.quiet,
        verbose=args.verbose,
        locked=args.locked,
        frozen=args.frozen,
        offline=args.offline,
        lib_paths=tuple(getattr(args, "lib_path", ())),
    )


def run_build(args: argparse.Namespace) -> int:
    from mwheel.build import build_wheels

    if args.command == "sdist":
        return run_sdist(args)
    if args.command == "generate-ci":
        return run_generate_ci(args)
    logging.basicConfig(
        format="mwheel: warning: %(message)s",
        stream=sys.stderr,
        level=logging.ERROR if args.quiet else logging.WARNING,
    )
    options = options_from_args(args)
    paths = build_wheels(options)
    if options.sdist:
        from mwheel.build.sdist import build_sdist

        paths.append(build_sdist(options))
    print_built(args, paths)
    return 0
