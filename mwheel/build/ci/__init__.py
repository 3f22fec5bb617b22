"""``mwheel generate-ci github``: a release workflow for every platform maturin's covers.

By default it builds what maturin 1.16's generator builds (manylinux x86_64, x86, aarch64,
armv7, s390x, ppc64le; musllinux x86_64, x86, aarch64, armv7; Windows x64, x86, aarch64;
macOS x86_64 and aarch64) plus the sdist, each target on the runner that can build it
(``targets.json``), optionally tests every wheel on its own architecture (QEMU for the
foreign Linux ones), and publishes on tags with trusted publishing and build-provenance
attestations. ``plan.py`` decides what to build, ``github.py`` writes the YAML; both are
imported on first use so the CLI can register its arguments cheaply.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mwheel.build.ci.data import load_targets
from mwheel.build.ci.options import CiOptions

if TYPE_CHECKING:
    from mwheel.build.ci.plan import WorkflowPlan

__all__ = ["CiOptions", "GeneratedWorkflow", "github_workflow", "platform_names"]


@dataclass(frozen=True)
class GeneratedWorkflow:
    text: str
    plan: WorkflowPlan


def platform_names() -> tuple[str, ...]:
    """Every ``--platform`` value: platforms, then aliases (all, linux, macosarm64)."""
    table = load_targets()
    return (*table.platforms, *table.aliases)


def _command(options: CiOptions) -> str:
    words = ["mwheel", "generate-ci", "github"]
    if options.manifest_path:
        words += ["-m", options.manifest_path.as_posix()]
    if options.mwheel_find_links:
        words += ["--mwheel-find-links", options.mwheel_find_links.as_posix()]
    if options.platforms:
        words += ["--platform", *options.platforms]
    words += [flag for flag, on in (("--pytest", options.pytest), ("--zig", options.zig)) if on]
    return shlex.join(words)


def github_workflow(options: CiOptions) -> GeneratedWorkflow:
    """The workflow text for ``options``; raises UsageError / ConfigError on bad input."""
    from mwheel.build.ci.github import render
    from mwheel.build.ci.plan import plan_workflow

    plan = plan_workflow(options)
    return GeneratedWorkflow(render(plan, _command(options)), plan)
