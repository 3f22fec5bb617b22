"""Member and distribution names as installers see them (PEP 427, PEP 503).

A member name is refused if it would land outside the install target; two names that an
installer writes to the same path are one name (``normalise_member``), so the duplicate
check runs on that form.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from mwheel.errors import WheelError

_DRIVE = re.compile(r"^[A-Za-z]:")


def check_member_name(name: str, where: str) -> None:
    """Refuse names that would land outside the install target (PEP 427 paths are relative)."""
    problem = None
    if not name or "\x00" in name:
        problem = "empty or NUL in name"
    elif "\\" in name:
        problem = "backslash in name"
    elif name.startswith("/"):
        problem = "absolute path"
    elif _DRIVE.match(name):
        problem = "drive letter"
    elif ".." in name.rstrip("/").split("/"):
        problem = "'..' component"
    if problem:
        raise WheelError(f"{where}: hostile member name {name!r}: {problem}")


def normalise_member(name: str) -> str:
    """The path an installer writes ``name`` to: empty and ``.`` components dropped.

    Installers join the name to the target directory, so ``pkg/./x`` and ``pkg//x`` land on
    ``pkg/x``; two members with one normal form overwrite each other at install time.
    """
    parts = [p for p in name.split("/") if p not in ("", ".")]
    return "/".join(parts) + ("/" if name.endswith("/") and parts else "")


def check_file_dir_clash(installed: dict[str, str], files: set[str], where: str) -> None:
    """Refuse a member installed where another member needs a directory (``pkg`` and ``pkg/x``).

    ``installed`` maps every member's normal form to its name; ``files`` are the normal forms
    of the regular files. An installer would fail half-way, or the second one would win.
    """
    for key, name in installed.items():
        parts = key.rstrip("/").split("/")
        for depth in range(1, len(parts)):
            parent = "/".join(parts[:depth])
            if parent in files:
                raise WheelError(
                    f"{where}: member {name} needs {parent} to be a directory, "
                    f"but {installed[parent]} is a file"
                )
        if key.endswith("/") and key.rstrip("/") in files:
            raise WheelError(
                f"{where}: member {name} is a directory and {installed[key.rstrip('/')]} a file"
            )


def check_same_install_path(members: Iterable[str], data_dir: str, where: str) -> None:
    """Refuse two members that install to one path through ``<dist>.data/purelib|platlib``.

    ``x.data/platlib/pkg/m.so`` and ``pkg/m.so`` both land in site-packages (purelib and
    platlib are one directory on most systems): whichever the installer writes last wins.
    """
    seen: dict[str, str] = {}
    prefixes = (f"{data_dir}/purelib/", f"{data_dir}/platlib/")
    for name in members:
        if name.startswith(prefixes):
            target = normalise_member(name.split("/", 2)[2])
        elif name.startswith(f"{data_dir}/"):
            continue  # scripts, headers, data: installed elsewhere
        else:
            target = normalise_member(name)
        if target in seen:
            raise WheelError(
                f"{where}: members {seen[target]} and {name} install to the same path {target}"
            )
        seen[target] = name


def normalise_dist(name: str) -> str:
    """PEP 503 normal form, to find the ``.dist-info`` of the wheel's own distribution."""
    return re.sub(r"[-_.]+", "_", name).lower()
