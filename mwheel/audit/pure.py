"""Pure wheels (platform tag ``any``) that nevertheless ship ELF, Mach-O or PE files.

pip installs a ``py3-none-any`` wheel on every platform and never looks inside it, so a
binary in it is only a problem when Python imports it as an extension module on a platform
it was not built for. Binaries that Python does not import (setuptools' and distlib's
Windows launchers ``cli-64.exe``, ``t64.exe``; libraries a package loads with ``ctypes``
when it runs on their platform) are data: the wheel is pure and compliant, as pip and the
peer tools treat it (auditwheel: "not a platform wheel"; delvewheel: nothing to copy).

An extension module is recognised by what CPython's import machinery calls in it
(``PyInit_<name>``, the module's file name up to the first dot), not by its file name:
``.so`` is a valid extension suffix and also the suffix of every ctypes library. An extension
module beside a pure-Python module of the same name (an optional accelerator with a
fallback) still imports everywhere: a warning. Without a fallback the wheel cannot work on
every platform its tag promises: an error, and the platform rules judge that module so the
report says which tag it would honour.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from dataclasses import dataclass, replace

from mwheel.audit.context import WheelContext
from mwheel.audit.findings import Finding
from mwheel.binary.model import Binary

_FORMAT_OS = {"elf": "Linux", "macho": "macOS", "pe": "Windows"}


def is_pure(platforms: Iterable[str]) -> bool:
    """True when every platform tag of the wheel is ``any`` (there is at least one)."""
    names = set(platforms)
    return bool(names) and names == {"any"}


def is_extension_module(member: str, binary: Binary) -> bool:
    """Whether CPython could import ``member`` as an extension module (PEP 489 init)."""
    stem = posixpath.basename(member).split(".", 1)[0]
    return f"PyInit_{stem}" in binary.exported


def _has_fallback(ctx: WheelContext, member: str) -> bool:
    stem = posixpath.basename(member).split(".", 1)[0]
    here = posixpath.dirname(ctx.install_path(member))
    for candidate in (f"{stem}.py", f"{stem}/__init__.py"):
        if ctx.member_at(posixpath.join(here, candidate)) is not None:
            return True
    return False


def _shown(items: list[str], limit: int = 3) -> str:
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


@dataclass(frozen=True)
class PureSplit:
    """A pure wheel's binaries sorted out: what the platform rules must still judge."""

    judged: WheelContext  # the context restricted to extension modules without a fallback
    findings: tuple[Finding, ...]


def split_pure(ctx: WheelContext) -> PureSplit:
    """The findings about a pure wheel's binaries, and the context the platform rules get."""
    data: list[str] = []
    findings: list[Finding] = []
    judged: dict[str, Binary] = {}
    for member, binary in ctx.binaries.items():
        if not is_extension_module(member, binary):
            data.append(member)
            continue
        where = f"{_FORMAT_OS[binary.format]} {'/'.join(binary.archs)}"
        if _has_fallback(ctx, member):
            findings.append(
                Finding(
                    "extension-in-pure-wheel",
                    member,
                    f"is a Python extension module for {where} in a pure wheel; elsewhere "
                    "Python imports the pure-Python module of the same name instead",
                    severity="warning",
                )
            )
            continue
        judged[member] = binary
        findings.append(
            Finding(
                "extension-in-pure-wheel",
                member,
                f"is a Python extension module for {where}, but the wheel's tag (any) "
                "promises every platform, where it cannot be imported; build a platform wheel",
            )
        )
    if data:
        findings.append(
            Finding(
                "binary-in-pure-wheel",
                data[0],
                f"{len(data)} binar{'y' if len(data) == 1 else 'ies'} ({_shown(data)}) in a "
                "pure wheel: no extension module among them, pip installs them on every "
                "platform as data files",
                severity="info",
                details=(("files", ",".join(data)),),
            )
        )
    return PureSplit(replace(ctx, binaries=judged), tuple(findings))
