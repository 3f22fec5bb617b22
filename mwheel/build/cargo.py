"""Driving cargo: ``cargo metadata`` for the crate's facts, ``cargo build`` for its artifacts.

Everything comes from cargo's JSON output, never from guessed paths: the crate's targets
and resolved features from ``cargo metadata --format-version 1``, the built files from the
``compiler-artifact`` messages of ``cargo build --message-format=json-render-diagnostics``
and the build scripts' link-search paths from ``build-script-executed`` messages. cargo's
rendered diagnostics go to stderr untouched, so the user sees compiler errors as cargo
prints them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mwheel.errors import BuildError

_ABI3_RE = re.compile(r"^abi3-py3(\d+)$")


@dataclass(frozen=True)
class CargoFlags:
    """Arguments that select what cargo resolves and builds (shared by metadata and build)."""

    features: tuple[str, ...] = ()
    all_features: bool = False
    no_default_features: bool = False
    locked: bool = False
    frozen: bool = False
    offline: bool = False

    def resolve_args(self) -> list[str]:
        out = [f"--features={','.join(self.features)}"] if self.features else []
        out += ["--all-features"] if self.all_features else []
        out += ["--no-default-features"] if self.no_default_features else []
        out += ["--locked"] if self.locked else []
        out += ["--frozen"] if self.frozen else []
        out += ["--offline"] if self.offline else []
        return out


@dataclass(frozen=True)
class Crate:
    """The root package of a manifest, as ``cargo metadata`` resolved it."""

    name: str
    version: str
    manifest: Path
    package_id: str
    lib_name: str | None  # the cdylib target's name, if there is one
    bins: tuple[str, ...]
    dependencies: tuple[str, ...]
    features: dict[str, tuple[str, ...]]  # resolved features of each dependency, by name
    all_dependencies: frozenset[str]  # names of the direct and indirect dependencies
    target_dir: Path
    package: dict[str, Any] = field(hash=False, compare=False)  # the raw package record
    # the whole `cargo metadata` document (the Rust SBOM walks its resolve graph)
    metadata: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def root(self) -> Path:
        return self.manifest.parent

    def detect_bindings(self) -> str:
        """What maturin detects: pyo3 / pyo3-ffi anywhere in the dependency graph (a bin
        crate when it has no cdylib), else uniffi if it depends on uniffi, else cffi for a
        cdylib, else bin."""
        for name in ("pyo3", "pyo3-ffi"):
            if name in self.all_dependencies:
                if not self.lib_name and self.bins:
                    return "bin"
                return name
        if "uniffi" in self.all_dependencies and self.lib_name:
            return "uniffi"
        if self.lib_name:
            return "cffi"
        if self.bins:
            return "bin"
        raise BuildError(f"{self.manifest}: the crate has neither a cdylib nor a bin target")

    def abi3_minimum(self) -> tuple[int, int] | bool | None:
        """The ``abi3-py3X`` floor enabled on pyo3/pyo3-ffi; True for bare ``abi3``."""
        found: list[int] = []
        bare = False
        for name in ("pyo3", "pyo3-ffi"):
            for feature in self.features.get(name, ()):
                if m := _ABI3_RE.match(feature):
                    found.append(int(m[1]))
                elif feature == "abi3":
                    bare = True
        if found:
            return (3, min(found))
        return True if bare else None


@dataclass(frozen=True)
class Artifact:
    kind: str  # "cdylib" or "bin"
    name: str
    path: Path


@dataclass(frozen=True)
class BuildOutput:
    artifacts: tuple[Artifact, ...]
    linked_paths: tuple[Path, ...]  # -L paths of the build scripts, for the repair


def _run_json(cmd: Sequence[str], cwd: Path, what: str) -> Any:
    try:
        proc = subprocess.run(list(cmd), cwd=cwd, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise BuildError(f"cannot run cargo ({cmd[0]}): {exc}") from None
    if proc.returncode != 0:
        last = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
        detail = last[-1] if last else f"exit status {proc.returncode}"
        raise BuildError(f"{what} failed: {detail}")
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise BuildError(f"{what}: cargo printed something that is not JSON") from None


def cargo_program() -> str:
    return os.environ.get("CARGO", "cargo")


def read_crate(manifest: Path, flags: CargoFlags) -> Crate:
    """Run ``cargo metadata`` and describe the package whose manifest is ``manifest``."""
    manifest = manifest.resolve()
    if not manifest.is_file():
        raise BuildError(f"{manifest}: no such Cargo.toml")
    cmd = [
        cargo_program(),
        "metadata",
        "--format-version",
        "1",
        "--manifest-path",
        str(manifest),
        *flags.resolve_args(),
    ]
    data = _run_json(cmd, manifest.parent, f"cargo metadata for {manifest}")
    packages = [
        p
        for p in data.get("packages", [])
        if Path(p.get("manifest_path", "")).resolve() == manifest
    ]
    if not packages:
        raise BuildError(
            f"{manifest}: a virtual workspace manifest; pass a member's Cargo.toml with -m"
        )
    pkg = packages[0]
    lib_name: str | None = None
    bins: list[str] = []
    for target in pkg.get("targets", []):
        kinds = target.get("kind", [])
        if "cdylib" in kinds:
            lib_name = target["name"]
        elif "bin" in kinds:
            bins.append(target["name"])
    names = {p["id"]: p["name"] for p in data.get("packages", [])}
    features: dict[str, tuple[str, ...]] = {}
    nodes = {n["id"]: n for n in (data.get("resolve") or {}).get("nodes", [])}
    for node in nodes.values():
        name = names.get(node["id"])
        if name:
            features[name] = tuple(node.get("features", []))
    # Walk the graph from this package: a workspace's resolve also holds other members' deps.
    seen: set[str] = set()
    todo = [pkg["id"]]
    while todo:
        for dep in nodes.get(todo.pop(), {}).get("deps", []):
            if dep["pkg"] not in seen:
                seen.add(dep["pkg"])
                todo.append(dep["pkg"])
    return Crate(
        name=pkg["name"],
        version=pkg["version"],
        manifest=manifest,
        package_id=pkg["id"],
        lib_name=lib_name,
        bins=tuple(sorted(bins)),
        dependencies=tuple(
            d["name"] for d in pkg.get("dependencies", []) if d.get("kind") in (None, "normal")
        ),
        features=features,
        all_dependencies=frozenset(names[i] for i in seen if i in names),
        target_dir=Path(data["target_directory"]),
        package=pkg,
        metadata=data,
    )


def _parse_messages(lines: Sequence[str], crate: Crate, kinds: set[str]) -> BuildOutput:
    artifacts: dict[tuple[str, str], Artifact] = {}
    linked: dict[Path, None] = {}
    for line in lines:
        if not line.startswith("{"):
            continue
        try:
            msg = json.loads(line)
        except json.JSONDecodeError:
            continue
        reason = msg.get("reason")
        if reason == "build-script-executed":
            for entry in msg.get("linked_paths", []):
                # "native=/path", "dependency=/path", "all=/path" or a bare path.
                kind, sep, path = entry.partition("=")
                if sep and kind in ("native", "all", "framework", "crate", "dependency"):
                    linked[Path(path)] = None
                elif not sep:
                    linked[Path(entry)] = None
        elif reason == "compiler-artifact" and msg.get("package_id") == crate.package_id:
            target = msg.get("target", {})
            for kind in target.get("kind", []):
                if kind not in kinds:
                    continue
                if kind == "bin" and msg.get("executable"):
                    path = Path(msg["executable"])
                else:
                    files = [
                        Path(f)
                        for f in msg.get("filenames", [])
                        if f.endswith((".so", ".dylib", ".dll", ".pyd"))
                    ]
                    if not files:
                        continue
                    path = files[0]
                artifacts[(kind, target["name"])] = Artifact(kind, target["name"], path)
    return BuildOutput(tuple(artifacts.values()), tuple(linked))


def build(
    crate: Crate,
    flags: CargoFlags,
    *,
    kind: str,
    profile: str,
    target: str | None,
    env: Mapping[str, str],
    target_dir: Path | None,
    quiet: bool = False,
    verbose: bool = False,
    rustc_args: Sequence[str] = (),
) -> BuildOutput:
    """Run ``cargo build`` for the cdylib (``kind="cdylib"``) or the bins of ``crate``.

    ``rustc_args`` (``-C strip=symbols`` for ``--strip``, ``[tool.maturin] rustc-args``) go
    to the final crate only, through ``cargo rustc ... -- ARGS`` as maturin does: a profile
    setting or RUSTFLAGS would change every dependency's fingerprint and rebuild them all.
    cargo takes such arguments for one target at a time, so each bin is its own run.
    """
    if kind == "cdylib":
        selections = [["--lib"]]
    elif rustc_args:
        selections = [["--bin", name] for name in crate.bins]
    else:
        selections = [["--bins"]]
    lines: list[str] = []
    for selection in selections:
        cmd = [
            cargo_program(),
            "rustc" if rustc_args else "build",
            "--manifest-path",
            str(crate.manifest),
            "--message-format=json-render-diagnostics",
            f"--profile={profile}",
            *flags.resolve_args(),
            *selection,
        ]
        if target:
            cmd += ["--target", target]
        if target_dir:
            cmd += ["--target-dir", str(target_dir)]
        cmd += ["--quiet"] if quiet else []
        cmd += ["--verbose"] if verbose else []
        cmd += ["--", *rustc_args] if rustc_args else []
        try:
            with subprocess.Popen(
                cmd, cwd=crate.root, stdout=subprocess.PIPE, text=True, env={**os.environ, **env}
            ) as proc:
                assert proc.stdout is not None
                lines += proc.stdout.readlines()
                code = proc.wait()
        except OSError as exc:
            raise BuildError(f"cannot run cargo ({cmd[0]}): {exc}") from None
        if code != 0:
            raise BuildError(
                f"{crate.manifest}: cargo build failed (exit status {code}); "
                "its diagnostics are above"
            )
    out = _parse_messages(lines, crate, {kind})
    if not out.artifacts:
        raise BuildError(f"{crate.manifest}: cargo reported no {kind} artifact")
    return out
