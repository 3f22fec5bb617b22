"""PEP 517 / PEP 660 hooks: ``build-backend = "mwheel"`` (re-exported by ``mwheel``).

Glue only: each hook turns its arguments into ``BuildOptions`` and calls ``build_wheels`` or
``build_sdist``. Extra ``mwheel build`` arguments come from ``MWHEEL_BUILD_ARGS`` (a shell
string) and from ``config_settings`` (``--config-settings build-args="..."``). Local builds
(pip install .) default to ``--release`` and compatibility ``linux``: the wheel is for this
machine, so the audit must not fail it; ``--compatibility``, from the arguments or
``[tool.mwheel]``, asks for more.

A hook that fails with an ``MwheelError`` prints its one-line message (``mwheel: error:
...``) and exits with the error's code: the frontend (pip, build) shows the hook's output,
and a traceback through the backend would bury the one line that says what to fix.
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import shlex
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import ParamSpec, TypeVar

from mwheel.build.cli import add_build_options, options_from_args
from mwheel.build.options import BuildOptions
from mwheel.errors import BuildError, MwheelError, RepairError, UsageError

ConfigSettings = dict[str, str | list[str]] | None
_P = ParamSpec("_P")
_R = TypeVar("_R")


def _hook(func: Callable[_P, _R]) -> Callable[_P, _R]:
    """Turn an ``MwheelError`` into its one-line message and exit code (see the module doc)."""

    @functools.wraps(func)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        # Warnings (a [tool.maturin] key mwheel ignores, ...) reach the frontend's output.
        logging.basicConfig(format="mwheel: warning: %(message)s", stream=sys.stderr)
        try:
            return func(*args, **kwargs)
        except MwheelError as exc:
            print(f"mwheel: error: {exc.message}", file=sys.stderr, flush=True)
            raise SystemExit(exc.exit_code) from None

    return run


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"MWHEEL_BUILD_ARGS / build-args: {message}")


def _extra_args(config_settings: ConfigSettings) -> list[str]:
    args = shlex.split(os.environ.get("MWHEEL_BUILD_ARGS", ""))
    for key in ("build-args", "build_args", "--build-option"):
        value = (config_settings or {}).get(key)
        if isinstance(value, str):
            args += shlex.split(value)
        elif isinstance(value, list):
            args += [a for v in value for a in shlex.split(v)]
    return args


def backend_options(
    out_dir: str, config_settings: ConfigSettings, editable: bool = False
) -> BuildOptions:
    """Local builds are release builds tagged ``linux_<arch>`` (maturin's PEP 517 defaults),
    unless the arguments or the configuration say otherwise: ``profile``, ``compatibility``,
    and for editables ``editable-profile``."""
    parser = _Parser(prog="mwheel-backend", add_help=False)
    add_build_options(parser)
    args = parser.parse_args(_extra_args(config_settings))
    opts = options_from_args(args)
    profile_given = opts.release or opts.profile is not None
    from mwheel.build.config import load_pyproject

    tool = load_pyproject(Path.cwd() / "pyproject.toml").tool
    compat = opts.compatibility or tool.compatibility or ("linux",)
    profile = opts.profile
    if editable and not profile_given and tool.editable_profile:
        profile = tool.editable_profile
    return replace(
        opts,
        out_dir=Path(out_dir),
        project_dir=Path.cwd(),
        release=opts.release or not (profile_given or tool.profile or profile),
        profile=profile,
        compatibility=compat,
        editable=editable,
    )


@_hook
def get_requires_for_build_wheel(config_settings: ConfigSettings = None) -> list[str]:
    return []


@_hook
def get_requires_for_build_sdist(config_settings: ConfigSettings = None) -> list[str]:
    return []


@_hook
def get_requires_for_build_editable(config_settings: ConfigSettings = None) -> list[str]:
    return []


@_hook
def build_wheel(
    wheel_directory: str,
    config_settings: ConfigSettings = None,
    metadata_directory: str | None = None,
) -> str:
    return _build_local(backend_options(wheel_directory, config_settings)).name


def _build_local(opts: BuildOptions) -> Path:
    """Build; a ``compatibility`` from pyproject.toml that this machine's build cannot honour
    gives the ``linux_<arch>`` wheel maturin's backend always builds, with a warning, rather
    than a failed ``pip install`` (a tag asked for in the build arguments still must hold)."""
    from mwheel.build import build_wheels
    from mwheel.build.config import load_pyproject

    try:
        return build_wheels(opts)[0]
    except BuildError as exc:
        tag_missed = isinstance(exc.__context__, RepairError) or "does not honour" in exc.message
        configured = (
            opts.compatibility == load_pyproject(Path.cwd() / "pyproject.toml").tool.compatibility
        )
        if not (tag_missed and configured) or opts.compatibility == ("linux",):
            raise
        logging.getLogger("mwheel.build").warning(
            "%s; building a linux_<arch> wheel for this machine instead", exc.message
        )
        return build_wheels(replace(opts, compatibility=("linux",)))[0]


@_hook
def build_editable(
    wheel_directory: str,
    config_settings: ConfigSettings = None,
    metadata_directory: str | None = None,
) -> str:
    from mwheel.build import build_wheels

    return build_wheels(backend_options(wheel_directory, config_settings, editable=True))[0].name


@_hook
def build_sdist(sdist_directory: str, config_settings: ConfigSettings = None) -> str:
    from mwheel.build.sdist import build_sdist as make_sdist

    return make_sdist(backend_options(sdist_directory, config_settings)).name


def _write_metadata(metadata_directory: str, config_settings: ConfigSettings) -> str:
    from mwheel.build import cargo
    from mwheel.build.driver import locate_project
    from mwheel.build.metadata import project_metadata
    from mwheel.build.options import resolve

    opts = backend_options(metadata_directory, config_settings)
    manifest, pyproject, root = locate_project(opts)
    crate = cargo.read_crate(manifest, resolve(opts, pyproject, root).flags)
    meta = project_metadata(crate, pyproject)
    dist_info = Path(metadata_directory) / f"{meta.dist_name}-{meta.version}.dist-info"
    dist_info.mkdir(parents=True, exist_ok=True)
    (dist_info / "METADATA").write_bytes(meta.render())
    (dist_info / "WHEEL").write_text(
        "Wheel-Version: 1.0\nGenerator: mwheel\nRoot-Is-Purelib: false\n\n"
    )
    if entry_points := meta.render_entry_points():
        (dist_info / "entry_points.txt").write_bytes(entry_points)
    return dist_info.name


@_hook
def prepare_metadata_for_build_wheel(
    metadata_directory: str, config_settings: ConfigSettings = None
) -> str:
    return _write_metadata(metadata_directory, config_settings)


@_hook
def prepare_metadata_for_build_editable(
    metadata_directory: str, config_settings: ConfigSettings = None
) -> str:
    return _write_metadata(metadata_directory, config_settings)
