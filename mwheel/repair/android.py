"""The Android repair planner: the Linux ELF grafting, with Android's tag and libpython.

Grafting is the same as for Linux (``linux.py``): ``libc++_shared.so`` and every other
non-system library are copied into ``<dist>.libs/`` under hashed names, DT_NEEDED renamed,
RUNPATH ``$ORIGIN/...`` set (bionic's loader honours DT_RUNPATH and ``$ORIGIN`` from API
level 24 on, and never DT_RPATH, whose entries are rewritten as RUNPATH). Two differences:
extension modules keep their DT_NEEDED on ``libpython3.X.so`` (PEP 738 requires it on
Android, where manylinux forbids it), and the new tag is ``android_<API level>_<ABI>`` at
the level the wheel needs once grafted (the audit's ``repair_tag``), never lower than a
claimed tag's level.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from mwheel.audit.context import WheelContext
from mwheel.audit.verdict import PlatformVerdict
from mwheel.binary.model import Binary
from mwheel.errors import RepairError, TagError
from mwheel.repair.linux import LinuxPlanner
from mwheel.repair.model import FileEdit, Graft, RepairOptions
from mwheel.tags import PlatformTag


class AndroidPlanner(LinuxPlanner):
    @staticmethod
    def _member_edit(
        ctx: WheelContext,
        member: str,
        binary: Binary,
        verdict: PlatformVerdict,
        by_name: dict[str, str],
        graft_for: Callable[[str, str], Graft],
        graft_dir_by_path: dict[str, str],
    ) -> FileEdit | None:
        edit = LinuxPlanner._member_edit(
            ctx, member, binary, verdict, by_name, graft_for, graft_dir_by_path
        )
        assert binary.elf is not None
        if binary.elf.rpath and not binary.elf.runpath:
            # Bionic reads DT_RUNPATH only: the DT_RPATH entries are written as RUNPATH.
            edit = edit or FileEdit(member, "elf")
            if edit.rpaths is None:
                edit = replace(edit, rpaths=binary.elf.rpath)
        if edit is None or not edit.remove:
            return edit
        kept = replace(edit, remove=())
        return kept if kept.replace or kept.rpaths is not None else None

    @staticmethod
    def _tags(
        ctx: WheelContext,
        verdict: PlatformVerdict,
        options: RepairOptions,
        excluded: frozenset[str],
    ) -> tuple[list[str], list[str]]:
        if verdict.repair_tag is None:
            raise RepairError(f"{ctx.label}: a needed library was not found; pass --lib-path DIR")
        needed = PlatformTag.parse(verdict.repair_tag)
        assert needed.version is not None
        claimed = [t for t in ctx.claimed if t.os == "android" and t.arch == needed.arch]
        level = max([needed.version[0]] + [t.version[0] for t in claimed if t.version])
        chosen = PlatformTag("android", (level, 0), needed.arch)
        if options.plat != "auto":
            try:
                target = PlatformTag.parse(options.plat)
            except TagError:
                raise TagError(f"--plat: unknown platform tag {options.plat!r}") from None
            if target.family != "android" or target.arch != needed.arch:
                raise RepairError(
                    f"{ctx.label}: --plat {target.name}: the binaries are for {needed.name}"
                )
            assert target.version is not None
            if target.version[0] < needed.version[0]:
                raise RepairError(
                    f"{ctx.label}: cannot reach {target.name}: the wheel needs API level "
                    f"{needed.version[0]} ({needed.name})"
                )
            chosen = target
        notes = [
            f"replaced claimed tag {t.name} by {chosen.name}"
            for t in ctx.claimed
            if t.os == "android" and t != chosen
        ]
        return [chosen.name], notes
