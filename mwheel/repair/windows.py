"""The Windows repair planner: graft external DLLs into ``<dist>.libs/``, rename imports.

Every external DLL (and every DLL it needs in turn) is copied into ``<dist>.libs/`` as
``<name>-<hash>.dll``: Windows keeps one module per name in a process, so two wheels
bundling different ``zlib1.dll`` builds would otherwise get whichever loaded first.
``--no-mangle NAME`` / ``--no-mangle-all`` keep the original names. Each binary importing a
renamed DLL gets a ``FileEdit`` for the PE patcher (``pe_patch.py``); each top-level
package gets an ``os.add_dll_directory`` call in its ``__init__.py`` (``dll_init.py``);
extension modules no ``__init__.py`` precedes get a start-up module imported from a
``.pth`` file. Windows tags carry no version, so the wheel keeps its tags.
"""

from __future__ import annotations

import fnmatch
import re

from mwheel.audit.context import WheelContext
from mwheel.audit.verdict import PlatformVerdict
from mwheel.errors import RepairError, TagError
from mwheel.repair.dll_init import patch_init, pth_line, startup_module
from mwheel.repair.graft import file_sha256, graftable, hashed_name
from mwheel.repair.model import FileEdit, Graft, PlatformPlan, RepairOptions
from mwheel.tags import PlatformTag
from mwheel.wheel.archive import WheelArchive


def _matches(name: str, globs: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(name.lower(), g.lower()) for g in globs)


def mangled_name(name: str, digest: str) -> str:
    """``zlib1.dll`` -> ``zlib1-<8 hex of its sha256>.dll``."""
    dot = name.rfind(".")
    return hashed_name(name, digest, name[dot:] if dot > 0 else "")


def _tags(ctx: WheelContext, verdict: PlatformVerdict, options: RepairOptions) -> list[str]:
    if options.plat != "auto":
        try:
            target = PlatformTag.parse(options.plat)
        except TagError:
            raise TagError(f"--plat: unknown platform tag {options.plat!r}") from None
        if target.family != "win" or target.arch != verdict.arch:
            raise RepairError(
                f"{ctx.label}: --plat {target.name} does not match the wheel's "
                f"{verdict.arch} Windows binaries"
            )
        return [target.name]
    claimed = [t.name for t in ctx.claimed if t.family == "win" and t.arch == verdict.arch]
    return claimed or ([verdict.repair_tag] if verdict.repair_tag else [])


class WindowsPlanner:
    def plan(
        self, ctx: WheelContext, verdict: PlatformVerdict, options: RepairOptions
    ) -> PlatformPlan:
        graph = verdict.graph
        excluded, notes = graftable(ctx, graph, options.exclude, "imported", fold_case=True)
        if verdict.repair_tag is None:
            why = next(
                (f"{f.member}: {f.message}" for f in verdict.findings if f.severity == "error"),
                "its binaries do not match its tag",
            )
            raise RepairError(f"{ctx.label}: grafting DLLs cannot fix this wheel: {why}")
        tags = _tags(ctx, verdict, options)
        if options.strip:
            notes.append("--strip: not applied to PE files (their debug data is in .pdb files)")

        libs_dir = f"{ctx.dist_name}.libs"
        taken = {m.lower() for m in ctx.members}
        grafts: dict[str, Graft] = {}  # lower-case imported name -> graft
        for ext in graph.externals:
            if ext.name in excluded or ext.path is None:
                continue
            digest = file_sha256(ext.path)
            keep = options.no_mangle_all or _matches(ext.name, options.no_mangle)
            new_name = ext.name if keep else mangled_name(ext.name, digest)
            member = f"{libs_dir}/{new_name}"
            if member.lower() in taken:
                raise RepairError(
                    f"{ctx.label}: cannot graft {ext.path} as {member}: the wheel "
                    "already has a file of that name"
                )
            taken.add(member.lower())
            grafts[ext.name.lower()] = Graft(ext.name, ext.path, member, new_name, digest)
            if keep:
                notes.append(f"not renamed (--no-mangle): {ext.name}")
        if not grafts:
            return PlatformPlan(platform_tags=tuple(tags), notes=tuple(notes))

        edits: list[FileEdit] = []
        signed: list[str] = []
        sources = [(m, m) for m, b in ctx.binaries.items() if b.format == "pe"]
        sources += [
            (e.path, grafts[e.name.lower()].member)
            for e in graph.externals
            if e.path is not None and e.name.lower() in grafts
        ]
        binaries = {e.path: e.binary for e in graph.externals if e.path}
        for holder, member in sources:
            replace = tuple(
                (d.name, grafts[d.name.lower()].new_name)
                for d in graph.for_binary(holder)
                if d.kind == "external"
                and d.name.lower() in grafts
                and grafts[d.name.lower()].new_name != d.name
            )
            if replace:
                edits.append(FileEdit(member, "pe", replace=tuple(dict.fromkeys(replace))))
                binary = ctx.binaries.get(holder) or binaries.get(holder)
                if binary is not None and binary.pe is not None and binary.pe.has_signature:
                    signed.append(member)
        notes += [
            f"{m}: Authenticode signature dropped (renaming its imports invalidates it)"
            for m in signed
        ]
        delayed = {
            name.lower()
            for b in [*ctx.binaries.values(), *binaries.values()]
            if b is not None and b.pe is not None
            for name in b.pe.delay_imports
        }
        preload = tuple(sorted(g.new_name for key, g in grafts.items() if key in delayed))
        notes += [
            f"{n}: delay-loaded, so the DLL directory patch loads it up front" for n in preload
        ]
        files, file_notes = self._init_files(ctx, verdict, set(grafts), libs_dir, preload)
        return PlatformPlan(
            grafts=tuple(sorted(grafts.values(), key=lambda g: g.member)),
            edits=tuple(edits),
            files=tuple(files),
            platform_tags=tuple(tags),
            notes=tuple(notes + file_notes),
        )

    @staticmethod
    def _init_files(
        ctx: WheelContext,
        verdict: PlatformVerdict,
        grafted: set[str],
        libs_dir: str,
        preload: tuple[str, ...],
    ) -> tuple[list[tuple[str, bytes]], list[str]]:
        """The ``__init__.py`` patches (and start-up module) that reach every binary that
        loads a graft, directly or through DLLs of the wheel."""
        graph = verdict.graph
        needs = {
            d.needed_by
            for d in graph.dependencies
            if d.kind == "external" and d.name.lower() in grafted
        }
        imported_by: dict[str, set[str]] = {}
        for d in graph.dependencies:
            if d.kind == "bundled" and d.member:
                imported_by.setdefault(d.member, set()).add(d.needed_by)
        pending = list(needs)
        while pending:
            for importer in imported_by.get(pending.pop(), ()):
                if importer not in needs:
                    needs.add(importer)
                    pending.append(importer)
        # Only binaries Python loads itself: a DLL another member imports rides on its
        # importer's DLL directory.
        roots = sorted(
            m
            for m in needs
            if m in ctx.binaries
            and m not in imported_by
            and not ctx.install_path(m).startswith("<")
        )
        inits: dict[str, int] = {}
        startup = False
        for member in roots:
            parts = ctx.install_path(member).split("/")
            for depth in range(1, len(parts)):
                init = ctx.member_at("/".join(parts[:depth]) + "/__init__.py")
                if init is not None:
                    inits.setdefault(init, depth)
                    break
            else:
                startup = True
        if (inits or startup) and ctx.source is None:
            raise RepairError(f"{ctx.label}: the wheel file is needed to patch __init__.py")
        files: list[tuple[str, bytes]] = []
        notes: list[str] = []
        if inits:
            assert ctx.source is not None
            with WheelArchive(ctx.source) as archive:
                for init, depth in sorted(inits.items()):
                    patched = patch_init(init, archive.read(init), libs_dir, depth, preload)
                    if patched != archive.read(init):
                        files.append((init, patched))
                        notes.append(f"{init}: calls os.add_dll_directory({libs_dir!r})")
        if startup:
            module = "_mwheel_dlls_" + re.sub(r"\W", "_", ctx.dist_name)
            pth = f"{ctx.dist_name}-mwheel-dlls.pth"
            files += [(f"{module}.py", startup_module(libs_dir, preload)), (pth, pth_line(module))]
            notes.append(
                f"{pth}: imports {module} at start-up, which adds {libs_dir} to the "
                "DLL search path for extension modules outside any package"
            )
        return files, notes
