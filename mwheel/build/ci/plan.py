"""What a generated workflow builds: the selected targets and the project facts it needs.

A pure function of the options and the project files (``plan_workflow``), kept apart from
the YAML rendering so tests can check the selection (``--platform`` names and aliases, as
maturin's generator takes them) without parsing text. Project facts that end up in the
workflow's shell lines (distribution name, manifest path) are checked against a strict
character set here: they come from files in the repository, and a name that could break
out of its quoting must be refused, not rendered.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomllib
from packaging.specifiers import InvalidSpecifier, SpecifierSet

import mwheel
from mwheel.build.ci.data import Platform, Target, load_targets
from mwheel.build.ci.options import CiOptions
from mwheel.build.config import Pyproject, find_manifest
from mwheel.errors import ConfigError, UsageError

# CPython versions a workflow builds for (pyo3 0.30 supports 3.9 and later), and the one
# its tests run on when the project allows it (every test image and runner has it).
PYTHON_VERSIONS = tuple(f"3.{minor}" for minor in range(9, 15))
TEST_PYTHON = "3.13"
_SAFE_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?")
_SAFE_PATH = re.compile(r"[A-Za-z0-9._/-]+")


@dataclass(frozen=True)
class Project:
    name: str  # distribution name, what pip installs in the test jobs
    manifest: str | None  # ``-m`` value relative to the repository root, POSIX form
    python_versions: tuple[str, ...]
    test_python: str
    is_bin: bool  # a program, not an extension: no Pyodide build (maturin leaves it out too)


@dataclass(frozen=True)
class WorkflowPlan:
    project: Project
    builds: tuple[Platform, ...]  # each with only the selected targets
    pytest: bool
    mwheel_version: str
    mwheel_find_links: str | None  # a repository directory holding this mwheel's wheel
    warnings: tuple[str, ...]


def select_platforms(names: tuple[str, ...]) -> tuple[Platform, ...]:
    """``--platform`` values (names and aliases, any combination) -> platforms in table order."""
    table = load_targets()
    wanted: dict[str, set[str] | None] = {}  # platform -> target names (None: all)
    for name in names or table.default:
        if name in table.platforms:
            entries: tuple[str, ...] = (name,)
        elif name in table.aliases:
            entries = table.aliases[name]
        else:
            known = sorted([*table.platforms, *table.aliases])
            raise UsageError(f"generate-ci: unknown platform {name!r} (known: {', '.join(known)})")
        for entry in entries:
            plat, _, target = entry.partition(":")
            current = wanted.get(plat, set())
            if not target:
                wanted[plat] = None
            elif current is not None:
                wanted[plat] = current | {target}
    out = []
    for platform in table.platforms.values():
        if platform.name not in wanted:
            continue
        only = wanted[platform.name]
        targets = tuple(t for t in platform.targets if only is None or t.name in only)
        out.append(
            Platform(
                platform.name, platform.title, platform.compatibility, targets, platform.publish
            )
        )
    return tuple(out)


def _relative(manifest: Path, root: Path) -> str:
    try:
        rel = (root / manifest).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        raise UsageError(
            f"{manifest}: the manifest must be inside the repository ({root})"
        ) from None
    if not _SAFE_PATH.fullmatch(rel):
        raise UsageError(f"{manifest}: path has characters a workflow cannot quote safely")
    return rel


def _cargo_toml(manifest: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{manifest}: cannot read: {exc}") from None


def _is_bin(manifest: Path, cargo: dict[str, Any], pyproject: Pyproject) -> bool:
    """A crate shipped as a program: bindings = "bin", or a binary and no cdylib library."""
    if pyproject.tool.bindings:
        return pyproject.tool.bindings == "bin"
    lib = cargo.get("lib", {})
    cdylib = isinstance(lib, dict) and "cdylib" in lib.get("crate-type", [])
    has_bin = "bin" in cargo or (manifest.parent / "src" / "main.rs").is_file()
    return has_bin and not cdylib


def _python_versions(requires: object, where: Path) -> tuple[str, ...]:
    if requires is None:
        return PYTHON_VERSIONS
    try:
        spec = SpecifierSet(str(requires))
    except InvalidSpecifier:
        raise ConfigError(f"{where}: invalid requires-python {requires!r}") from None
    versions = tuple(v for v in PYTHON_VERSIONS if spec.contains(v, prereleases=True))
    if not versions:
        raise ConfigError(
            f"{where}: requires-python {requires} allows none of CPython "
            f"{PYTHON_VERSIONS[0]}-{PYTHON_VERSIONS[-1]}"
        )
    return versions


def _locate(manifest_path: Path | None, root: Path) -> tuple[Path, Pyproject]:
    """Cargo.toml and pyproject.toml as ``mwheel build`` finds them (``-m``, or the
    pyproject's ``manifest-path``, or ``Cargo.toml`` at the root), without importing the
    build driver and everything it pulls in."""
    given = (root / manifest_path).resolve() if manifest_path is not None else None
    manifest, pyproject = find_manifest(root, given)
    if not manifest.is_file():
        raise UsageError(f"{manifest}: no Cargo.toml found (pass -m/--manifest-path)")
    return manifest, pyproject


def read_project(options: CiOptions) -> Project:
    """Name, manifest and Python versions of the project in the repository root."""
    root = options.project_dir or Path.cwd()
    manifest, pyproject = _locate(options.manifest_path, root)
    where = pyproject.path or manifest
    cargo = _cargo_toml(manifest)
    name = pyproject.project.get("name") or cargo.get("package", {}).get("name")
    if not isinstance(name, str):
        raise ConfigError(f"{where}: no project name ([project] name or [package] name)")
    if not _SAFE_NAME.fullmatch(name):
        # It is written into the workflow's scripts: refuse what could escape the quoting.
        raise ConfigError(f"{where}: project name {name!r} is not a valid distribution name")
    versions = _python_versions(pyproject.project.get("requires-python"), where)
    test_python = TEST_PYTHON if TEST_PYTHON in versions else versions[-1]
    rel = _relative(manifest, root) if options.manifest_path else None
    return Project(name, rel, versions, test_python, _is_bin(manifest, cargo, pyproject))


def python_versions_for(project: Project, target: Target) -> tuple[str, ...]:
    """The project's versions the target's runner can install (Windows arm64: 3.11+)."""
    if target.min_python is None:
        return project.python_versions
    floor = tuple(int(p) for p in target.min_python.split("."))
    kept = tuple(v for v in project.python_versions if tuple(int(p) for p in v.split(".")) >= floor)
    return kept


def plan_workflow(options: CiOptions) -> WorkflowPlan:
    builds = select_platforms(options.platforms)
    project = read_project(options)
    warnings = []
    if project.is_bin and any(p.name == "emscripten" for p in builds):
        builds = tuple(p for p in builds if p.name != "emscripten")
        warnings.append("emscripten: left out, a program cannot run in Pyodide")
    kept = []
    for platform in builds:
        targets = []
        for target in platform.targets:
            if python_versions_for(project, target):
                targets.append(target)
            else:
                warnings.append(
                    f"{platform.name} {target.name}: left out, its runner has CPython "
                    f"{target.min_python} and later only, which requires-python excludes"
                )
        if targets:
            kept.append(dataclasses.replace(platform, targets=tuple(targets)))
    builds = tuple(kept)
    if any(p.name == "emscripten" for p in builds):
        warnings.append(
            "emscripten: this mwheel cannot build wasm32-unknown-emscripten wheels yet; the "
            "job is generated (and kept out of the release) so it works once mwheel can"
        )
    root = options.project_dir or Path.cwd()
    links = find_links(options.mwheel_find_links, root)
    return WorkflowPlan(project, builds, options.pytest, mwheel.__version__, links, tuple(warnings))


def find_links(given: Path | None, root: Path) -> str | None:
    """Where the jobs look for mwheel's wheel before PyPI: ``--mwheel-find-links``, else
    ``tools/`` when it holds this version's wheel (the README's way to use mwheel before
    it is on PyPI), else nowhere."""
    if given is None:
        tools = root / "tools"
        if not any(tools.glob(f"mwheel-{mwheel.__version__}-*.whl")):
            return None
        given = tools
    if not (root / given).is_dir():
        raise UsageError(f"{given}: --mwheel-find-links must name a directory")
    return _relative(given, root)
