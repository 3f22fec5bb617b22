"""``pyproject.toml`` for builds: ``[project]``, ``[tool.maturin]``, ``[tool.mwheel]``, read once.

A maturin project switches to mwheel by changing ``build-backend`` only, so ``[tool.maturin]``
is read with maturin's key names and meanings (its user guide's Configuration page), and
``[tool.mwheel]`` takes the same keys. When both tables set a key, ``[tool.mwheel]`` wins and
the disagreement is a warning. A key maturin accepts but mwheel does not implement
(``maturin_keys.json``) is a one-line warning naming it, never an error and never silent.
A key neither tool knows is an error in ``[tool.mwheel]`` (a typo must not silently change a
build) and a warning in ``[tool.maturin]`` (maturin ignores it). A value of the wrong type
is a one-line ``ConfigError`` naming the key. Command-line flags override these values
(``mwheel.build.options``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any

import tomllib

from mwheel.errors import ConfigError

log = logging.getLogger("mwheel.build")

BINDINGS = ("pyo3", "pyo3-ffi", "cffi", "uniffi", "bin")
AUDITWHEEL_MODES = ("repair", "check", "warn", "skip")
FORMATS = ("sdist", "wheel")


@dataclass(frozen=True)
class FileRule:
    """An include/exclude glob, limited to the sdist, the wheel, or both (``format=None``)."""

    path: str
    format: str | None = None

    def applies_to(self, fmt: str) -> bool:
        return self.format is None or self.format == fmt


@dataclass(frozen=True)
class ToolConfig:
    """``[tool.mwheel]``, validated; ``None`` means "not set" so flags and defaults apply."""

    bindings: str | None = None
    compatibility: tuple[str, ...] = ()
    skip_auditwheel: bool = False
    auditwheel: str | None = None
    strip: bool = False
    features: tuple[str, ...] = ()
    all_features: bool = False
    no_default_features: bool = False
    profile: str | None = None
    manifest_path: str | None = None
    module_name: str | None = None
    python_source: str | None = None
    python_packages: tuple[str, ...] = ()
    include: tuple[FileRule, ...] = ()
    exclude: tuple[FileRule, ...] = ()
    data: str | None = None
    editable_profile: str | None = None
    frozen: bool = False
    locked: bool = False
    rustc_args: tuple[str, ...] = ()
    sbom_rust: bool = True  # [tool.maturin.sbom] rust = false turns the Rust SBOM off
    # [tool.mwheel.provided-by]: SONAME = DIST pairs for the audit (audit/providers.py)
    provided_by: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Pyproject:
    path: Path | None
    project: dict[str, Any] = field(default_factory=dict, hash=False)
    tool: ToolConfig = ToolConfig()
    build_system: dict[str, Any] = field(default_factory=dict, hash=False)
    warnings: tuple[str, ...] = ()  # already logged once when the file was read


def _str(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"[tool.mwheel] {key} must be a string, not {type(value).__name__}")
    return value


def _bool(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"[tool.mwheel] {key} must be true or false, not {value!r}")
    return value


def _strs(key: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"[tool.mwheel] {key} must be a list of strings")
    return tuple(value)


def _choice(choices: tuple[str, ...]) -> Callable[[str, Any], str]:
    def check(key: str, value: Any) -> str:
        text = _str(key, value)
        if text not in choices:
            raise ConfigError(
                f"[tool.mwheel] {key} = {text!r}: expected one of {', '.join(choices)}"
            )
        return text

    return check


def _format(key: str, value: Any) -> str | None:
    """``format``: one of FORMATS or a list of them (as maturin allows); None means both."""
    if value is None:
        return None
    if isinstance(value, list):
        if not value:
            raise ConfigError(f"[tool.mwheel] {key} must name sdist, wheel or both")
        chosen = {_choice(FORMATS)(key, v) for v in value}
        return chosen.pop() if len(chosen) == 1 else None
    return _choice(FORMATS)(key, value)


def _escapes(glob: str) -> bool:
    path = PurePosixPath(glob.replace("\\", "/"))
    return path.is_absolute() or ".." in path.parts or glob[1:2] == ":"  # C:/...


def _rules(key: str, value: Any) -> tuple[FileRule, ...]:
    if not isinstance(value, list):
        raise ConfigError(f"[tool.mwheel] {key} must be a list of globs or tables")
    out: list[FileRule] = []
    for item in value:
        if isinstance(item, str):
            item = {"path": item}
        if not isinstance(item, dict) or not isinstance(item.get("path"), str):
            raise ConfigError(
                f"[tool.mwheel] {key}: each entry is a glob or "
                '{ path = "glob", format = "sdist" | "wheel" | [both] }'
            )
        if _escapes(item["path"]):
            raise ConfigError(
                f"[tool.mwheel] {key}: {item['path']!r} must be a relative glob "
                "inside the project (no leading / and no ..)"
            )
        unknown = set(item) - {"path", "format"}
        if unknown:
            raise ConfigError(f"[tool.mwheel] {key}: unknown key {sorted(unknown)[0]!r}")
        out.append(FileRule(item["path"], _format(f"{key}.format", item.get("format"))))
    return tuple(out)


def _inside(key: str, value: Any) -> str:
    """A directory of the project, named relative to pyproject.toml."""
    text = _str(key, value)
    if _escapes(text):
        raise ConfigError(
            f"[tool.mwheel] {key} = {text!r}: must be a relative path inside "
            "the project (no leading / and no ..)"
        )
    return text


def _sdist_include(key: str, value: Any) -> tuple[FileRule, ...]:
    """maturin's pre-1.0 ``sdist-include``: globs for the sdist only."""
    return tuple(FileRule(r.path, "sdist") for r in _rules(key, value))


def _sbom(key: str, value: Any) -> bool:
    """``sbom = { rust = false }`` turns the Rust dependency SBOM off (``include`` is ignored)."""
    if not isinstance(value, dict):
        raise ConfigError(f"[tool.mwheel] {key} must be a table")
    return _bool(f"{key}.rust", value.get("rust", True))


def _provided_by(key: str, value: Any) -> tuple[tuple[str, str], ...]:
    """``provided-by = { "libcudnn.so.9" = "nvidia-cudnn-cu12" }`` (read by the audit)."""
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ConfigError(f"[tool.mwheel] {key} must map library names to distribution names")
    return tuple(sorted(value.items()))


_KEYS: dict[str, Callable[[str, Any], Any]] = {
    "bindings": _choice(BINDINGS),
    "compatibility": _strs,
    "skip-auditwheel": _bool,
    "auditwheel": _choice(AUDITWHEEL_MODES),
    "strip": _bool,
    "features": _strs,
    "all-features": _bool,
    "no-default-features": _bool,
    "profile": _str,
    "manifest-path": _str,
    "module-name": _str,
    "python-source": _inside,
    "python-packages": _strs,
    "include": _rules,
    "exclude": _rules,
    "data": _inside,
    "editable-profile": _str,
    "frozen": _bool,
    "locked": _bool,
    "rustc-args": _strs,
    "sdist-include": _sdist_include,
    "sbom": _sbom,
    "provided-by": _provided_by,
}
# Keys whose value lands in another field of ToolConfig.
_FIELD = {"sdist-include": "include", "sbom": "sbom_rust"}


@cache
def _maturin_keys() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (Path(__file__).parent / "maturin_keys.json").read_text(encoding="utf-8")
    )
    return data


def parse_table(table: Any, name: str, warnings: list[str]) -> dict[str, Any]:
    """Validate one ``[tool.<name>]`` table into ``{field: value}`` (only the keys it sets)."""
    if not isinstance(table, dict):
        raise ConfigError(f"[tool.{name}] must be a table")
    known = _maturin_keys()
    values: dict[str, Any] = {}
    for key, value in table.items():
        key = known["aliases"].get(key, key)
        check = _KEYS.get(key)
        if check is None:
            if value in known["silent"].get(key, []):
                continue
            if key in known["accepted"]:
                warnings.append(
                    f"[tool.{name}] {key}: not implemented by mwheel, ignored "
                    f"({known['accepted'][key]})"
                )
                continue
            if name == "maturin":
                warnings.append(f"[tool.maturin] unknown key {key!r}, ignored")
                continue
            raise ConfigError(
                f"[tool.{name}] unknown key {key!r} (known: {', '.join(sorted(_KEYS))})"
            )
        try:
            parsed = check(key, value)
        except ConfigError as exc:
            raise ConfigError(exc.message.replace("[tool.mwheel]", f"[tool.{name}]")) from None
        fname = _FIELD.get(key, key.replace("-", "_"))
        if key == "sdist-include":
            warnings.append(
                f"[tool.{name}] sdist-include is deprecated: read as include with format = sdist"
            )
            parsed = values.get(fname, ()) + parsed
        elif key == "include" and fname in values:
            parsed = parsed + values[fname]
        values[fname] = parsed
    return values


def parse_tool(table: Any, warnings: list[str] | None = None) -> ToolConfig:
    """``[tool.mwheel]`` alone (the unit the tests and the API check)."""
    return ToolConfig(**parse_table(table, "mwheel", [] if warnings is None else warnings))


def merge_tools(maturin: Any, mwheel: Any, warnings: list[str]) -> ToolConfig:
    """Both tables, key by key: ``[tool.mwheel]`` wins, and a disagreement is a warning."""
    values = parse_table(maturin, "maturin", warnings) if maturin is not None else {}
    for key, value in (
        parse_table(mwheel, "mwheel", warnings) if mwheel is not None else {}
    ).items():
        if key in values and values[key] != value:
            warnings.append(
                f"{key.replace('_', '-')} is set in [tool.maturin] and [tool.mwheel] with "
                "different values: [tool.mwheel] wins"
            )
        values[key] = value
    return ToolConfig(**values)


_logged: set[str] = set()


def _warn_once(messages: list[str]) -> None:
    """Each warning once per process: the backend and the driver read the file several times."""
    for message in messages:
        if message not in _logged:
            _logged.add(message)
            log.warning("%s", message)


def load_pyproject(path: Path) -> Pyproject:
    """Read ``path`` if it exists; a missing file is an empty configuration."""
    if not path.is_file():
        return Pyproject(None)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    project = data.get("project", {})
    if not isinstance(project, dict):
        raise ConfigError(f"{path}: [project] must be a table")
    tools = data.get("tool", {})
    warnings: list[str] = []
    try:
        if not isinstance(tools, dict):
            raise ConfigError("[tool] must be a table")
        config = merge_tools(tools.get("maturin"), tools.get("mwheel"), warnings)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc.message}") from None
    warnings = [f"{path}: {w}" for w in warnings]
    _warn_once(warnings)
    build_system = data.get("build-system", {})
    return Pyproject(
        path,
        project,
        config,
        build_system if isinstance(build_system, dict) else {},
        tuple(warnings),
    )


def find_manifest(project_dir: Path, manifest: Path | None) -> tuple[Path, Pyproject]:
    """Cargo.toml and the pyproject.toml that configures it, as ``mwheel build`` finds them.

    ``manifest`` (``-m``, already resolved) names the crate; its own directory's
    pyproject.toml configures it, else the project directory's when that one's
    ``manifest-path`` names it. Without ``-m``: the project directory's pyproject.toml and its
    ``manifest-path``, else ``Cargo.toml`` there. Whether the manifest exists is the caller's
    check (a build error for the build, a usage error for generate-ci).
    """
    if manifest is not None:
        pyproject = load_pyproject(manifest.parent / "pyproject.toml")
        if pyproject.path is None:
            other = load_pyproject(project_dir / "pyproject.toml")
            mp = other.tool.manifest_path
            if mp and (project_dir / mp).resolve() == manifest:
                pyproject = other
        return manifest, pyproject
    pyproject = load_pyproject(project_dir / "pyproject.toml")
    mp = pyproject.tool.manifest_path
    return ((project_dir / mp).resolve() if mp else project_dir / "Cargo.toml"), pyproject
