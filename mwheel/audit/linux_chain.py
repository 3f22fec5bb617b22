"""What a bundled library finds through the wheel binaries that load it (the loader's chain).

The resolver judges each file's DT_NEEDED entries by the file's own RUNPATH or RPATH. When
the file is loaded as the dependency of another wheel binary, the loader does more:

* a library already in the process is matched by name before any directory is searched
  (glibc ``_dl_map_object``, musl ``load_library``), and the loader maps every direct need of
  a file before it handles the needs of those needs (breadth first): whatever an ancestor
  needs directly is loaded by the time the library's own needs are looked up;
* glibc then searches the DT_RPATH of the loading chain (the file's loader, that one's
  loader, ...) when the file has no DT_RUNPATH (ld.so(8)); musl searches the RPATH or RUNPATH
  of every file of the chain whatever the file has (``ldso/dynlink.c``: ``for (p=needed_by;
  ...; p=p->needed_by)``).

Wheels repaired by auditwheel rely on both: pillow 11.0.0's ``libharfbuzz`` needs
``libfreetype`` and has no RUNPATH, but ``_imagingft``, which loads it, needs libfreetype too
and has DT_RPATH ``$ORIGIN/../pillow.libs``. A need is reachable when every chain from a
binary that no wheel binary loads (an extension, a program) to the library reaches it.
"""

from __future__ import annotations

import posixpath
from dataclasses import replace

from mwheel.audit.context import WheelContext
from mwheel.audit.resolve import Dependency


def reachable_through_loaders(
    deps: list[Dependency], ctx: WheelContext, libc: str
) -> list[Dependency]:
    """``deps`` with the bundled needs the loading chain reaches marked reachable."""
    parents: dict[str, set[str]] = {}
    for d in deps:
        if d.kind == "bundled" and d.member is not None and d.needed_by in ctx.binaries:
            parents.setdefault(d.member, set()).add(d.needed_by)
    loads: dict[str, set[str]] = {}
    for d in deps:
        if d.kind != "bundled" or d.reachable:
            loads.setdefault(d.needed_by, set()).add(d.name)

    def inherited(ancestor: str, member: str, target: str) -> bool:
        """Whether the ancestor's search path, searched for ``member``'s needs, finds it."""
        anc = ctx.binaries[ancestor].elf
        own = ctx.binaries[member].elf
        assert anc is not None and own is not None
        if libc == "musl":
            entries = anc.runpath or anc.rpath
        elif own.runpath:
            return False  # ld.so: a file with DT_RUNPATH gets no DT_RPATH of its loaders
        else:
            entries = anc.rpath
        origin = posixpath.dirname(ctx.install_path(ancestor)) or "."
        for entry in entries:
            if "$ORIGIN" in entry or "${ORIGIN}" in entry:
                where = entry.replace("${ORIGIN}", origin).replace("$ORIGIN", origin)
                if ctx.member_at(posixpath.join(where, target)) in ctx.binaries:
                    return True
        return False

    def every_chain(member: str, dep: Dependency, seen: frozenset[str]) -> bool:
        above = parents.get(member, set())
        if not above:
            return False  # loaded by Python itself: only its own search path counts
        for parent in sorted(above - seen):
            if dep.name in loads.get(parent, set()):
                continue
            if inherited(parent, dep.needed_by, dep.name):
                continue
            if not every_chain(parent, dep, seen | {parent}):
                return False
        return True

    out = list(deps)
    changed = True
    while changed:  # a need fixed here can make another ancestor's need loadable
        changed = False
        for i, d in enumerate(out):
            loose = d.kind == "bundled" and not d.reachable and d.needed_by in ctx.binaries
            if loose and every_chain(d.needed_by, d, frozenset({d.needed_by})):
                out[i] = replace(d, reachable=True)
                loads.setdefault(d.needed_by, set()).add(d.name)
                changed = True
    return out
