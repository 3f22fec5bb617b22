"""A repair plan: what will be grafted, which file gets which edit, and the new tags.

Plans are built by pure functions (one planner per operating system, ``planners.py``) from
the audit report, can be printed (``--dry-run``) and are applied once per file by the
patcher of the file's format (``patchers.py``). Nothing here touches the file system.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mwheel.binary.model import Format


@dataclass(frozen=True)
class RepairOptions:
    plat: str = "auto"  # "auto" or a platform tag to reach
    exclude: tuple[str, ...] = ()  # globs on library names kept external on purpose
    strip: bool = False
    only_plat: bool = False  # keep only the platform tags reached (no legacy alias)
    compresslevel: int | None = None
    no_mangle: tuple[str, ...] = ()  # Windows: DLL names not to rename
    no_mangle_all: bool = False
    require_archs: tuple[str, ...] = ()  # macOS: architectures every binary must have
    # Where grafts go: Linux ``<dist><lib_sdir>`` (auditwheel's -L, default ".libs"), macOS
    # ``<package>/<lib_sdir>`` (delocate's -L, default ".dylibs"). None: the default.
    lib_sdir: str | None = None
    # False: the wheel keeps its file name tags and WHEEL Tag lines (--no-update-tags).
    update_tags: bool = True
    # True: libraries not found stay external with a note instead of failing the repair
    # (delocate's --ignore-missing-dependencies).
    ignore_missing: bool = False
    # macOS: drop absolute and build-tree LC_RPATHs (delocate's --sanitize-rpaths, default).
    sanitize_rpaths: bool = True
    # macOS: fail when the repaired wheel needs a newer macOS than this (major, minor).
    require_target_macos: tuple[int, int] | None = None
    # A wheel with no binary is copied byte for byte (auditwheel's --allow-pure-python-wheel).
    allow_pure: bool = False


@dataclass(frozen=True)
class Graft:
    """A library copied into the wheel."""

    name: str  # how the binaries reference it (soname, install name, DLL name)
    source: str  # path on this machine
    member: str  # where it goes in the wheel
    new_name: str  # the name binaries will reference it by
    sha256: str
    version: str | None = None  # where known, for the SBOM


@dataclass(frozen=True)
class FileEdit:
    """Every change to one binary (a wheel member or a graft), applied in one go.

    ``replace`` renames dependencies (DT_NEEDED, LC_LOAD_DYLIB, imported DLL names);
    ``rpaths`` replaces the whole search path (ELF RUNPATH, Mach-O LC_RPATHs) when not None;
    ``soname`` sets DT_SONAME / LC_ID_DYLIB; ``remove`` drops dependencies (libpython).
    """

    member: str
    format: Format
    replace: tuple[tuple[str, str], ...] = ()
    rpaths: tuple[str, ...] | None = None
    soname: str | None = None
    remove: tuple[str, ...] = ()
    strip: bool = False
    # Format-specific switches (e.g. macOS re-signing) that the format's patcher reads.
    extra: tuple[tuple[str, Any], ...] = ()

    def describe(self) -> list[str]:
        out = (
            [f"set {'id' if self.format == 'macho' else 'soname'} {self.soname}"]
            if self.soname
            else []
        )
        out += [f"replace {old} -> {new}" for old, new in self.replace]
        out += [f"remove {name}" for name in self.remove]
        if self.rpaths is not None:
            out.append(f"set rpath {':'.join(self.rpaths) or '(none)'}")
        if self.strip:
            out.append("strip")
        return out


@dataclass(frozen=True)
class PlatformPlan:
    grafts: tuple[Graft, ...] = ()
    edits: tuple[FileEdit, ...] = ()
    # New or replaced text members (Windows __init__.py patches), member -> content.
    files: tuple[tuple[str, bytes], ...] = ()
    platform_tags: tuple[str, ...] = ()  # the platform tags the repaired wheel carries
    notes: tuple[str, ...] = ()  # what the plan decided and why (dropped tags, exclusions)


@dataclass(frozen=True)
class RepairPlan:
    wheel: str
    output_name: str
    grafts: tuple[Graft, ...]
    edits: tuple[FileEdit, ...]
    files: tuple[tuple[str, bytes], ...]
    platform_tags: tuple[str, ...]
    notes: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "wheel": self.wheel,
            "output": self.output_name,
            "platform_tags": list(self.platform_tags),
            "grafts": [
                {
                    "name": g.name,
                    "from": g.source,
                    "to": g.member,
                    "new_name": g.new_name,
                    "sha256": g.sha256,
                }
                for g in self.grafts
            ],
            "edits": [{"file": e.member, "changes": e.describe()} for e in self.edits],
            "files": [name for name, _ in self.files],
            "notes": list(self.notes),
        }
