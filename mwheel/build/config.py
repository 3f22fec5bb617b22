"""``pyproject.toml`` for builds: the ``[project]`` table and ``[tool.mwheel]``, read once.

``[tool.mwheel]`` takes the keys maturin users know from ``[tool.maturin]`` (bindings,
compatibility, features, python-source, include/exclude...). Every key is checked when the
file is read: an unknown key or a value of the wrong type is a one-line ``ConfigError``
naming the key, so a typo never silently changes a build. Command-line flags override
these values (``mwheel.build.options``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import tomllib

from mwheel.errors import ConfigError

BINDINGS = ("pyo3", "pyo3-ffi", "cffi", "bin")
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


@dataclass(frozen=True)
class Pyproject:
    path: Path | None
    project: dict[str, Any] = field(default_factory=dict, hash=False)
    tool: ToolConfig = ToolConfig()
    build_system: dict[str, Any] = field(default_factory=dict, hash=False)


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
}


def parse_tool(table: Any) -> ToolConfig:
    if not isinstance(table, dict):
        raise ConfigError("[tool.mwheel] must be a table")
    values: dict[str, Any] = {}
    for key, value in table.items():
        check = _KEYS.get(key)
        if check is None:
            raise ConfigError(
                f"[tool.mwheel] unknown key {key!r} (known: {', '.join(sorted(_KEYS))})"
            )
        values[key.replace("-", "_")] = check(key, value)
    return ToolConfig(**values)


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
    tool = data.get("tool", {}).get("mwheel", {})
    try:
        config = parse_tool(tool)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc.message}") from None
    build_system = data.get("build-system", {})
    return Pyproject(path, project, config, build_system if isinstance(build_system, dict) else {})
