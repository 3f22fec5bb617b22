"""Core metadata 2.4 (METADATA, PKG-INFO) and entry points of a wheel, as maturin writes them.

Implements the core metadata specification, PEP 621 and PEP 639, with maturin's merge of
``[project]`` and the Cargo package (checked against maturin 1.16's output):

* Without a ``[project]`` table everything comes from Cargo.toml: Summary, Keywords,
  Home-Page, Author (and Author-email when an author has one), License, the readme, and
  Project-URLs ``Homepage``, ``Documentation`` and ``Source Code``.
* With ``[project]``, a field comes from Cargo.toml only when ``dynamic`` names it
  (``version``, ``description``, ``authors``, ``license``, ``readme``, ``keywords``,
  ``urls``); nothing is invented: no ``Source Code`` URL beside ``[project.urls]``.
  Cargo's ``homepage`` is always the ``Home-Page`` field, as maturin writes it.
* A ``license`` string is a PEP 639 ``License-Expression``; a licence from Cargo.toml or a
  ``{text = ...}`` table is ``License``. ``license-files`` globs (default ``LICEN[CS]E*``,
  ``COPYING*``, ``NOTICE*``, ``AUTHORS*``) give ``License-File`` entries, and the files are
  shipped under ``.dist-info/licenses/``.
* A readme's content type is kept as written (``charset``, ``variant``); from its extension
  it is ``text/markdown; charset=UTF-8; variant=GFM``, ``text/x-rst; charset=UTF-8`` or
  ``text/plain; charset=UTF-8``.

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
from mwheel.build.requirements import requires_dist
from mwheel.errors import ConfigError

_README_TYPES = {
    ".md": "text/markdown; charset=UTF-8; variant=GFM",
    ".markdown": "text/markdown; charset=UTF-8; variant=GFM",
    ".rst": "text/x-rst; charset=UTF-8",
}
_PLAIN = "text/plain; charset=UTF-8"
DEFAULT_LICENSE_GLOBS = ("LICEN[CS]E*", "COPYING*", "NOTICE*", "AUTHORS*")


@dataclass(frozen=True)
class ProjectMetadata:
    name: str  # as written (for Name:)
    version: str  # PEP 440 normalised
    headers: tuple[tuple[str, str], ...]  # every METADATA header after Name and Version
    description: str | None  # the long description (body)
    entry_points: dict[str, dict[str, str]]  # group -> name -> "module:attr"
    # (path inside .dist-info/licenses/, file) for each License-File
    license_files: tuple[tuple[str, Path], ...] = ()

    @property
    def dist_name(self) -> str:
        """The wheel file-name form of the name: normalised, with underscores."""
        return canonicalize_name(self.name).replace("-", "_")

    def render(self) -> bytes:
        lines = ["Metadata-Version: 2.4", f"Name: {self.name}", f"Version: {self.version}"]
        lines += [f"{k}: {v}" for k, v in self.headers]
        text = "\n".join(lines) + "\n"
        if self.description:
            text += "\n" + self.description + "\n"  # maturin ends the body with a newline
        return text.encode("utf-8")

    def render_entry_points(self) -> bytes | None:
        if not self.entry_points:
            return None
        # maturin's spelling: groups and entries in the order written, ``name=value``.
        parts = []
        for group, entries in self.entry_points.items():
            parts.append(f"[{group}]\n" + "".join(f"{n}={v}\n" for n, v in entries.items()))
        return "".join(parts).encode("utf-8")


def _pep440(version: str, where: str) -> str:
    try:
        return str(Version(version))
    except InvalidVersion:
        raise ConfigError(f"{where}: version {version!r} is not a PEP 440 version") from None


def _people(entries: Any, where: str, field: str) -> list[tuple[str, str]]:
    """PEP 621 authors/maintainers -> (Author, Author-email) header values."""
    names: list[str] = []
    emails: list[str] = []
    if not isinstance(entries, list):
        raise ConfigError(f"{where}: [project] {field} must be a list of tables")
    for entry in entries:
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: each of [project] {field} is a table with name/email")
        name, email = entry.get("name"), entry.get("email")
        if email:
            emails.append(f"{name} <{email}>" if name else str(email))
        elif name:
            names.append(str(name))
    return [(h, ", ".join(v)) for h, v in (("Author", names), ("Author-email", emails)) if v]


def _cargo_people(authors: list[str]) -> list[tuple[str, str]]:
    """maturin joins Cargo's authors into Author, and into Author-email when one has an email."""
    if not authors:
        return []
    joined = ", ".join(authors)
    return [("Author", joined)] + ([("Author-email", joined)] if "@" in joined else [])


def _readme(value: Any, base: Path, where: str) -> tuple[str | None, str | None]:
    if value is None:
        return None, None
    if isinstance(value, str):
        value = {"file": value}
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: readme must be a path or a table")
    if "text" in value:
        return str(value["text"]), str(value.get("content-type", _PLAIN))
    path = base / str(value.get("file", ""))
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where}: cannot read the readme {path}: {exc}") from None
    ctype = value.get("content-type") or _README_TYPES.get(path.suffix.lower(), _PLAIN)
    return text, str(ctype)


def _license(
    project: dict[str, Any], pkg: dict[str, Any], dynamic: bool, base: Path
) -> list[tuple[str, str]]:
    lic = project.get("license")
    if isinstance(lic, str):
        return [("License-Expression", lic)]
    if isinstance(lic, dict) and "text" in lic:
        return [("License", str(lic["text"]))]
    if isinstance(lic, dict) and "file" in lic:
        return []  # the file is a License-File (maturin writes no License header for it)
    if dynamic and pkg.get("license"):
        return [("License", str(pkg["license"]))]
    return []


def find_license_files(project: dict[str, Any], base: Path, where: str) -> list[tuple[str, Path]]:
    """PEP 639: ``license-files`` globs relative to pyproject.toml, or the default globs."""
    globs = project.get("license-files", DEFAULT_LICENSE_GLOBS)
    if not isinstance(globs, (list, tuple)) or not all(isinstance(g, str) for g in globs):
        raise ConfigError(f"{where}: [project] license-files must be a list of globs")
    found: dict[str, Path] = {}
    for pattern in globs:
        if pattern.startswith("/") or ".." in Path(pattern).parts:
            raise ConfigError(f"{where}: license-files glob {pattern!r} leaves the project")
        matches = [p for p in base.glob(pattern) if p.is_file()]
        if not matches and "license-files" in project and not any(c in pattern for c in "*?["):
            raise ConfigError(f"{where}: license-files: {pattern} does not exist")
        for path in matches:
            found[path.relative_to(base).as_posix()] = path
    return sorted(found.items())


def _cargo_urls(pkg: dict[str, Any]) -> dict[str, str]:
    urls: dict[str, str] = {}
    for key, label in (
        ("homepage", "Homepage"),
        ("documentation", "Documentation"),
        ("repository", "Source Code"),
    ):
        if pkg.get(key):
            urls[label] = str(pkg[key])
    return urls


def project_metadata(crate: Crate, pyproject: Pyproject) -> ProjectMetadata:
    """Merge ``[project]`` and the Cargo package into one metadata record."""
    project = pyproject.project
    pkg = crate.package
    where = str(pyproject.path or crate.manifest)
    base = pyproject.path.parent if pyproject.path else crate.root
    has_project = bool(project)
    dynamic = set(project.get("dynamic", [])) if has_project else None

    def from_cargo(field: str) -> bool:
        return dynamic is None or field in dynamic

    name = str(project.get("name") or crate.name)
    # A missing version is Cargo's even when dynamic forgets it: maturin is lenient there.
    version = _pep440(str(project.get("version") or crate.version), where)
    headers: list[tuple[str, str]] = []
    headers += [("Classifier", str(c)) for c in project.get("classifiers", [])]
    headers += [
        ("Requires-Dist", requires_dist(str(d), None, where))
        for d in project.get("dependencies", [])
    ]
    extras = _by_key(project.get("optional-dependencies"))
    for extra, deps in extras.items():
        headers += [("Requires-Dist", requires_dist(str(d), extra, where)) for d in deps]
    headers += [("Provides-Extra", e) for e in extras]
    # Without a [project] table maturin lists (and ships) no licence file.
    licenses = find_license_files(project, base, where) if has_project else []
    lic = project.get("license")
    if (
        isinstance(lic, dict)
        and isinstance(lic.get("file"), str)
        and "license-files" not in project
    ):
        path = (base / lic["file"]).resolve()
        if path.is_file() and path.is_relative_to(base.resolve()):
            rel = path.relative_to(base.resolve()).as_posix()
            licenses = sorted({**dict(licenses), rel: path}.items())
    headers += [("License-File", rel) for rel, _ in licenses]
    summary = project.get("description") or (
        pkg.get("description") if from_cargo("description") else None
    )
    if summary:
        lines = str(summary).strip().splitlines()
        headers.append(("Summary", " ".join(line.strip() for line in lines)))
    keywords = project.get("keywords") or (pkg.get("keywords") if from_cargo("keywords") else None)
    if keywords:
        headers.append(("Keywords", ",".join(keywords)))
    if pkg.get("homepage"):
        headers.append(("Home-Page", str(pkg["homepage"])))
    if "authors" in project:
        headers += _people(project["authors"], where, "authors")
    elif from_cargo("authors"):
        headers += _cargo_people(pkg.get("authors") or [])
    if "maintainers" in project:
        people = _people(project["maintainers"], where, "maintainers")
        headers += [(h.replace("Author", "Maintainer"), v) for h, v in people]
    headers += _license(project, pkg, from_cargo("license"), base)
    if rp := project.get("requires-python"):
        spec = ", ".join(s.strip() for s in str(rp).split(","))  # maturin's spelling
        headers.append(("Requires-Python", spec))
    if "readme" in project:
        text, ctype = _readme(project["readme"], base, where)
    elif from_cargo("readme"):
        text, ctype = _readme(pkg.get("readme"), crate.root, where)
    else:
        text, ctype = None, None
    if ctype:
        headers.append(("Description-Content-Type", ctype))
    urls = _by_key(project.get("urls"))
    if not urls and (not has_project or from_cargo("urls")):
        urls = _cargo_urls(pkg)
    headers += [("Project-URL", f"{k}, {v}") for k, v in urls.items()]
    entry_points: dict[str, dict[str, str]] = {}
    if scripts := project.get("scripts"):
        entry_points["console_scripts"] = _by_key(scripts)
    if gui := project.get("gui-scripts"):
        entry_points["gui_scripts"] = _by_key(gui)
    for group, entries in _by_key(project.get("entry-points")).items():
        entry_points[group] = _by_key(entries)
    return ProjectMetadata(name, version, tuple(headers), text, entry_points, tuple(licenses))


def _by_key(table: Any) -> dict[str, Any]:
    """A ``[project]`` table in key order, as maturin writes it.

    maturin reads pyproject.toml with the ``toml`` crate, whose tables are ordered maps
    (BTreeMap), so extras, URLs, scripts and entry-point groups come out sorted by name
    whatever their order in the file (checked with ``maturin pep517 write-dist-info``, 1.16).
    """
    return dict(sorted((str(k), v) for k, v in (table or {}).items()))
