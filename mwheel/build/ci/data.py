"""The two data files behind ``generate-ci``: the targets to build and the pinned actions.

``targets.json`` lists, per platform, the targets maturin 1.16's generator builds with the
Rust triple, runner and test method mwheel uses for each; ``actions.json`` pins every
action the workflow uses to a full commit SHA, with its version and where the mapping was
read. Both are validated once when first loaded, so a bad edit fails every test at once
instead of producing a workflow that names a runner or action that does not exist.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from mwheel.errors import PolicyError

TEST_METHODS = ("native", "docker", "qemu", "none")
_SHA = re.compile(r"[0-9a-f]{40}")


@dataclass(frozen=True)
class Target:
    """One build of the matrix: ``name`` is maturin's label (x86_64, x64, armv7...)."""

    platform: str
    name: str
    triple: str
    runner: str
    test: str  # native: the runner's Python; docker/qemu: a container; none: not tested
    docker_platform: str | None = None
    image: str | None = None
    python_arch: str | None = None  # setup-python's architecture (Windows)
    deployment_target: str | None = None  # MACOSX_DEPLOYMENT_TARGET (macOS)
    min_python: str | None = None  # the oldest CPython the runner has for this architecture


@dataclass(frozen=True)
class Platform:
    name: str
    title: str
    compatibility: str | None  # the --compatibility every Linux build of it asks for
    targets: tuple[Target, ...]
    publish: bool = True  # its wheels go to PyPI (and the release waits for its jobs)


@dataclass(frozen=True)
class Targets:
    platforms: dict[str, Platform]
    default: tuple[str, ...]
    aliases: dict[str, tuple[str, ...]]  # name -> platform or "platform:target" entries


@dataclass(frozen=True)
class ActionPin:
    repo: str
    version: str
    sha: str

    @property
    def uses(self) -> str:
        """The ``uses:`` value with the version as a trailing YAML comment."""
        return f"{self.repo}@{self.sha} # {self.version}"


def _load(name: str) -> dict[str, Any]:
    path = resources.files("mwheel.build.ci").joinpath(name)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise PolicyError(f"{path}: cannot load: {exc}") from None
    if not isinstance(data, dict) or "_source" not in data:
        raise PolicyError(f"{path}: expected an object with a _source")
    return data


def _target(platform: str, raw: dict[str, Any]) -> Target:
    target = Target(platform=platform, **raw)
    where = f"targets.json: {platform}/{target.name}"
    if target.test not in TEST_METHODS:
        raise PolicyError(f"{where}: test must be one of {', '.join(TEST_METHODS)}")
    if target.test in ("docker", "qemu") and not (target.docker_platform and target.image):
        raise PolicyError(f"{where}: a {target.test} test needs docker_platform and image")
    return target


@cache
def load_targets() -> Targets:
    data = _load("targets.json")
    platforms = {
        name: Platform(
            name,
            raw["title"],
            raw.get("compatibility"),
            tuple(_target(name, t) for t in raw["targets"]),
            raw.get("publish", True),
        )
        for name, raw in data["platforms"].items()
    }
    aliases = {k: tuple(v) for k, v in data["aliases"].items()}
    for alias, entries in aliases.items():
        for entry in entries:
            plat, _, target = entry.partition(":")
            known = platforms.get(plat)
            if known is None or (target and target not in {t.name for t in known.targets}):
                raise PolicyError(f"targets.json: alias {alias} names unknown {entry}")
    return Targets(platforms, tuple(data["default_platforms"]), aliases)


@cache
def load_actions() -> dict[str, ActionPin]:
    pins = {}
    for repo, raw in _load("actions.json")["actions"].items():
        if not _SHA.fullmatch(raw["sha"]) or not raw.get("version") or not raw.get("evidence"):
            raise PolicyError(f"actions.json: {repo} needs a 40-hex sha, a version, evidence")
        pins[repo] = ActionPin(repo, raw["version"], raw["sha"])
    return pins
