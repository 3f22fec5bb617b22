"""What every platform's rules see of one wheel: its binaries, parsed once, and where they go.

Install paths follow PEP 427: ``<dist>.data/purelib/x`` and ``.../platlib/x`` install beside
the root members, ``scripts``, ``headers`` and ``data`` go elsewhere, so ``$ORIGIN`` and
``@loader_path`` are computed from the install path, not the member name.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from mwheel.binary.model import Binary
from mwheel.tags import PlatformTag

if TYPE_CHECKING:
    from mwheel.audit.providers import Providers


@dataclass(frozen=True)
class AuditOptions:
    lib_paths: tuple[Path, ...] = ()
    host_libs: bool = True
    jobs: int = 0  # 0: one per core
    # Globs on library names kept external on purpose (``repair --exclude``): they do not
    # count against a policy, as in auditwheel.
    exclude: tuple[str, ...] = ()
    # False: the x86-64 ISA level of GNU property notes is not judged (auditwheel's
    # --disable-isa-ext-check, for wheels that pick their code path at run time).
    isa_check: bool = True
    # Where @executable_path points for extensions, whose executable is the interpreter
    # (delocate's --executable-path); an install path relative to site-packages, or absolute.
    executable_path: str | None = None
    # The abi3 floor when the interpreter tags name none (abi3audit's --assume-minimum-abi3).
    assume_minimum_abi3: tuple[int, int] | None = None
    # Windows: lower-case DLL names vendored even when they are system or runtime DLLs
    # (delvewheel's --include/--add-dll).
    include: tuple[str, ...] = ()
    # Libraries other wheels install (providers.py): SONAME=DIST mappings (globs allowed),
    # wheels or directories of wheels whose RECORDs say what they ship, and an index to ask
    # (opt-in: no network call without it).
    provided_by: tuple[tuple[str, str], ...] = ()
    find_links: tuple[Path, ...] = ()
    index_url: str | None = None

    @property
    def knows_providers(self) -> bool:
        return bool(self.provided_by or self.find_links or self.index_url)


@dataclass(frozen=True)
class WheelContext:
    label: str
    dist_name: str
    dist_info: str
    data_dir: str
    root_is_purelib: bool
    claimed: tuple[PlatformTag, ...]
    claimed_abis: tuple[str, ...]  # the ABI tags of the file name: cp311, abi3, none
    claimed_interpreters: tuple[str, ...]
    members: tuple[str, ...]
    binaries: dict[str, Binary] = field(hash=False)
    options: AuditOptions = AuditOptions()
    # The wheel file, for a planner that must read a member's text (Windows __init__.py).
    source: Path | None = field(default=None, compare=False)
    # The declared dependencies and the libraries they ship (None: no provider source given).
    providers: Providers | None = field(default=None, compare=False)

    def install_path(self, member: str) -> str:
        """Where ``member`` lands relative to site-packages; other schemes get a prefix."""
        prefix = self.data_dir + "/"
        if member.startswith(prefix):
            scheme, _, rest = member[len(prefix) :].partition("/")
            if scheme in ("purelib", "platlib"):
                return rest
            return f"<{scheme}>/{rest}"
        return member

    def member_at(self, install_path: str) -> str | None:
        return self._by_install_path.get(posixpath.normpath(install_path))

    @cached_property
    def _by_install_path(self) -> dict[str, str]:
        return {self.install_path(m): m for m in self.members}
