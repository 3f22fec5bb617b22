"""Core metadata (METADATA / PKG-INFO, version 2.1) and entry points of a built wheel.

Implements the core metadata specification and PEP 621: fields come from ``[project]`` in
pyproject.toml; what it leaves out (or lists in ``dynamic``) comes from the Cargo package
(version, description, license, authors, readme, homepage/repository), as maturin does.
Names are normalised per PEP 503 and versions per PEP 440 (cargo's ``1.0.0-alpha.1``
becomes ``1.0.0a1``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from mwheel.build.cargo import Crate
from mwheel.build.config import Pyproject
from mwheel.errors import ConfigError

_README_TYPES = {".md": "text/markdown", ".rst": "text/x-rst", ".txt": "text/plain"}


@dataclass(frozen=True)
class ProjectMetadata:
    name: str  # as written (for Name:)
    version: str  # PEP 440 normalised
    headers: tuple[tuple[str, str], ...]  # every METADATA header after Name and Version
    description: str | None  # the long description (body)
    entry_points: dict[str, dict[str, str]]  # group -> name -> "module:attr"

    @property
    def dist_name(self) -> str:
        """The wheel file-name form of the name: normalised, with underscores."""
        return canonicalize_name(self.name).replace("-", "_")

    def render(self) -> bytes:
        lines = ["Metadata-Version: 2.1", f"Name: {self.name}", f"Version: {self.version}"]
        lines += [f"{k}: {v}" for k, v in self.headers]
        text = "\n".join(lines) + "\n"
        if self.description:
            text += "\n" + self.description
        return text.encode("utf-8")

    def render_entry_points(self) -> bytes | None:
        if not self.entry_points:
            return None
        parts = []
        for group in sorted(self.entry_points):
            body = "".join(f"{n} = {v}\n" for n, v in sorted(self.entry_points[group].items()))
            parts.append(f"[{group}]\n{body}")
        return "\n".join(parts).encode("utf-8")


def _pep440(version: str, where: str) -> str:
    try:
        return str(Version(version))
    except InvalidVersion:
        raise ConfigError(f"{where}: version {version!r} is not a PEP 440 version") from None


def _people(entries: Any, where: str) -> list[tuple[str, str]]:
    """PEP 621 authors/maintainers -> (Author, Author-email) header values."""
    names: list[str] = []
    emails: list[str] = []
    for entry in entries or []:
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: each author is a table with name and/or email")
        name, email = entry.get("name"), entry.get("email")
        if email:
            emails.append(f"{name} <{email}>" if name else str(email))
        elif name:
            names.append(str(name))
    return [(h, ", ".join(v)) for h, v in (("Author", names), ("Author-email", emails)) if v]


def _cargo_people(authors: list[str]) -> list[tuple[str, str]]:
    names = [a for a in authors if "<" not in a]
    emails = [a for a in authors if "<" in a]
    return [(h, ", ".join(v)) for h, v in (("Author", names), ("Author-email", emails)) if v]


def _readme(value: Any, base: Path, where: str) -> tuple[str | None, str | None]:
    if value is None:
        return None, None
    if isinstance(value, str):
        value = {"file": value}
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: readme must be a path or a table")
    if "text" in value:
        return str(value["text"]), str(value.get("content-type", "text/plain"))
    path = base / str(value.get("file", ""))
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where}: cannot read the readme {path}: {exc}") from None
    ctype = value.get("content-type") or _README_TYPES.get(path.suffix.lower(), "text/plain")
    return text, str(ctype)


def _license(project: dict[str, Any], pkg: dict[str, Any]) -> str | None:
    lic = project.get("license")
    if isinstance(lic, str):
        return lic
    if isinstance(lic, dict) and "text" in lic:
        return str(lic["text"])
    return pkg.get("license") or None


def project_metadata(crate: Crate, pyproject: Pyproject) -> ProjectMetadata:
    """Merge ``[project]`` and the Cargo package into one metadata record."""
    project = pyproject.project
    pkg = crate.package
    where = str(pyproject.path or crate.manifest)
    base = pyproject.path.parent if pyproject.path else crate.root
    name = str(project.get("name") or crate.name)
    version = _pep440(str(project.get("version") or crate.version), where)
    headers: list[tuple[str, str]] = []
    summary = project.get("description") or pkg.get("description")
    if summary:
        headers.append(("Summary", " ".join(str(summary).split())))
    if "authors" in project:
        headers += _people(project["authors"], where)
    else:
        headers += _cargo_people(pkg.get("authors") or [])
    maintainers = _people(project.get("maintainers"), where)
    headers += [(h.replace("Author", "Maintainer"), v) for h, v in maintainers]
    if lic := _license(project, pkg):
        headers.append(("License", lic))
    if kw := project.get("keywords") or pkg.get("keywords"):
        headers.append(("Keywords", ",".join(kw)))
    headers += [("Classifier", c) for c in project.get("classifiers", [])]
    if rp := project.get("requires-python"):
        headers.append(("Requires-Python", str(rp)))
    headers += [("Requires-Dist", str(d)) for d in project.get("dependencies", [])]
    for extra, deps in sorted((project.get("optional-dependencies") or {}).items()):
        headers.append(("Provides-Extra", extra))
        headers += [("Requires-Dist", _with_extra(str(d), extra)) for d in deps]
    urls = dict(project.get("urls") or {})
    for key, label in (
        ("homepage", "Homepage"),
        ("repository", "Source Code"),
        ("documentation", "Documentation"),
    ):
        if pkg.get(key) and label not in urls:
            urls[label] = pkg[key]
    headers += [("Project-URL", f"{k}, {v}") for k, v in urls.items()]
    readme = project.get("readme") if "readme" in project else pkg.get("readme")
    readme_base = base if "readme" in project else crate.root
    text, ctype = _readme(readme, readme_base, where)
    if ctype:
        headers.append(("Description-Content-Type", ctype))
    entry_points: dict[str, dict[str, str]] = {}
    if scripts := project.get("scripts"):
        entry_points["console_scripts"] = dict(scripts)
    if gui := project.get("gui-scripts"):
        entry_points["gui_scripts"] = dict(gui)
    for group, entries in (project.get("entry-points") or {}).items():
        entry_points[group] = dict(entries)
    return ProjectMetadata(name, version, tuple(headers), text, entry_points)


def _with_extra(requirement: str, extra: str) -> str:
    if ";" in requirement:
        req, marker = requirement.split(";", 1)
        return f'{req.strip()} ; ({marker.strip()}) and extra == "{extra}"'
    return f'{requirement} ; extra == "{extra}"'
