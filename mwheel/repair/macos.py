"""The macOS repair planner: what to graft into ``<package>/.dylibs/``, each Mach-O's edits.

Every external dylib (and what it loads in turn) is copied into one ``.dylibs`` directory
inside the package of the first binary that needs one, under its leaf name, or with a
content hash inserted when another library already has that name. Each load command that
named it is rewritten to ``@loader_path/<relative path>`` (so it works wherever the wheel
is installed), each graft gets the install id ``@rpath/<name>``, and absolute or
build-tree LC_RPATHs are dropped. Every modified binary (and any unsigned arm64 one) is
marked for ad-hoc signing. The new tag is the best one over the members and the grafts:
a libfoo built for macOS 13.0 beside an extension built for 11.0 makes the wheel
``macosx_13_0_arm64``.
"""

from __future__ import annotations

import posixpath

from mwheel.audit.context import WheelContext
from mwheel.audit.macos import (
    MacPolicy,
    best_tag,
    fmt,
    grafted_binaries,
    mac_policy,
    macho_binaries,
    tag_archs,
    tag_problems,
)
from mwheel.audit.macos_resolve import LOADER, expand, rpaths_of
from mwheel.audit.verdict import PlatformVerdict
from mwheel.binary.model import Binary
from mwheel.errors import RepairError, TagError
from mwheel.repair.graft import file_sha256, graftable, hashed_name
from mwheel.repair.model import FileEdit, Graft, PlatformPlan, RepairOptions
from mwheel.tags import PlatformTag


def _dylibs_dir(
    ctx: WheelContext, member: str, policy: MacPolicy, sdir: str | None = None
) -> tuple[str, str]:
    """(member directory, install directory) of ``<package>/.dylibs`` for ``member``."""
    install = ctx.install_path(member)
    if install.startswith("<"):
        raise RepairError(
            f"{member}: grafting libraries for a binary outside site-packages "
            "(.data/scripts, .data/data) is not supported"
        )
    top = install.split("/", 1)[0] if "/" in install else ctx.dist_name
    install_dir = f"{top}/{sdir or policy.dylibs_dir}"
    prefix = member[: len(member) - len(install)]  # "<dist>.data/platlib/" or ""
    return prefix + install_dir, install_dir


def _loader_relative(target_install: str, loader_install_dir: str) -> str:
    return f"{LOADER}/{posixpath.relpath(target_install, loader_install_dir or '.')}"


def _kept_rpaths(binary: Binary, install_dir: str, sanitize: bool = True) -> tuple[list[str], bool]:
    """The LC_RPATHs worth keeping (relative ones that stay inside the wheel), and whether
    that differs from what the binary has: absolute ones point at the build machine.
    ``sanitize=False`` (``--no-sanitize-rpaths``) keeps them all."""
    old = list(rpaths_of(binary))
    if not sanitize:
        return old, False
    kept = []
    for r in old:
        if r.startswith("@executable_path") or r.startswith("@rpath"):
            kept.append(r)
        elif r.startswith(LOADER):
            where = expand(r, install_dir, None) or ""
            if not (where == ".." or where.startswith("../") or where.startswith("/")):
                kept.append(r)
    return kept, kept != old


def _needs_signature(binary: Binary, policy: MacPolicy) -> bool:
    assert binary.macho is not None
    return any(s.arch in policy.signature_required and not s.signed for s in binary.macho.slices)


class MacOSPlanner:
    def plan(
        self, ctx: WheelContext, verdict: PlatformVerdict, options: RepairOptions
    ) -> PlatformPlan:
        policy = mac_policy()
        graph = verdict.graph
        excluded, notes = graftable(ctx, graph, options.exclude, "loaded")
        machos = macho_binaries(ctx)
        wanted = [e for e in graph.externals if e.name not in excluded and e.path]

        member_dir = install_dir = ""
        grafts: dict[str, Graft] = {}  # by host path
        by_name: dict[str, Graft] = {}  # by install name
        if wanted:
            first_needer = next(m for e in wanted for m in e.needed_by if m in machos)
            member_dir, install_dir = _dylibs_dir(ctx, first_needer, policy, options.lib_sdir)
            taken = {
                posixpath.basename(m) for m in ctx.members if posixpath.dirname(m) == member_dir
            }
            for ext in wanted:
                assert ext.path is not None
                if ext.path not in grafts:
                    digest = file_sha256(ext.path)
                    leaf = posixpath.basename(ext.name)
                    if leaf in taken:  # another library already has this name
                        leaf = hashed_name(leaf, digest, ".dylib")
                    taken.add(leaf)
                    grafts[ext.path] = Graft(
                        ext.name, ext.path, f"{member_dir}/{leaf}", leaf, digest
                    )
                by_name[ext.name] = grafts[ext.path]

        def new_names(needer: str, loader_dir: str) -> list[tuple[str, str]]:
            out = []
            for d in graph.for_binary(needer):
                if d.name in by_name:
                    target = f"{install_dir}/{by_name[d.name].new_name}"
                    out.append((d.name, _loader_relative(target, loader_dir)))
                elif d.kind == "bundled" and not d.reachable and d.member:
                    target = ctx.install_path(d.member)
                    out.append((d.name, _loader_relative(target, loader_dir)))
            return list(dict.fromkeys(out))

        # The policy's list of architectures macOS will not run unsigned: the patcher leaves
        # other slices unsigned when their header has no room for a new signature.
        sign_extra = (
            ("sign", True),
            ("signature_required", tuple(sorted(policy.signature_required))),
        )
        # Directories holding a Mach-O member: an @loader_path LC_RPATH elsewhere finds
        # nothing, and the patcher may drop it when the header is short of room.
        macho_dirs = {posixpath.dirname(ctx.install_path(m)) for m in machos} | {install_dir}
        edits: list[FileEdit] = []
        for member, binary in machos.items():
            loader_dir = posixpath.dirname(ctx.install_path(member))
            replace = new_names(member, loader_dir)
            rpaths, rpaths_changed = _kept_rpaths(binary, loader_dir, options.sanitize_rpaths)
            sign = _needs_signature(binary, policy)
            if replace or rpaths_changed or sign:
                dead = tuple(
                    r
                    for r in rpaths
                    if r.startswith(LOADER) and expand(r, loader_dir, None) not in macho_dirs
                )
                edits.append(
                    FileEdit(
                        member,
                        "macho",
                        replace=tuple(replace),
                        rpaths=tuple(rpaths) if rpaths_changed else None,
                        extra=(*sign_extra, ("dead_rpaths", dead)),
                    )
                )
        for path, g in grafts.items():
            lib = next(e.binary for e in wanted if e.path == path)
            assert lib is not None
            rpaths, rpaths_changed = _kept_rpaths(lib, install_dir, options.sanitize_rpaths)
            edits.append(
                FileEdit(
                    g.member,
                    "macho",
                    replace=tuple(new_names(path, install_dir)),
                    rpaths=tuple(rpaths) if rpaths_changed else None,
                    soname=f"@rpath/{g.new_name}",
                    extra=sign_extra,
                )
            )

        tag, tag_notes = self._tag(ctx, verdict, options, excluded, policy)
        return PlatformPlan(
            grafts=tuple(grafts.values()),
            edits=tuple(edits),
            platform_tags=(tag.name,),
            notes=tuple(notes + tag_notes),
        )

    @staticmethod
    def _tag(
        ctx: WheelContext,
        verdict: PlatformVerdict,
        options: RepairOptions,
        excluded: frozenset[str],
        policy: MacPolicy,
    ) -> tuple[PlatformTag, list[str]]:
        after = grafted_binaries(ctx, verdict.graph, excluded)
        assert after is not None  # missing libraries were refused above
        labels = {
            e.path: e.name if e.name == e.path else f"{e.name} (from {e.path})"
            for e in verdict.graph.externals
            if e.path
        }
        required: set[str] = set()
        for arch in options.require_archs:
            required |= tag_archs(arch)
        lacking = [
            f"{labels.get(label, label)} has no {', '.join(sorted(required - set(b.archs)))}"
            for label, b in after.items()
            if required - set(b.archs)
        ]
        if lacking:
            more = f" (+{len(lacking) - 3} more)" if len(lacking) > 3 else ""
            raise RepairError(
                f"{ctx.label}: --require-archs {','.join(options.require_archs)}: "
                f"{'; '.join(lacking[:3])}{more}"
            )
        best, deciders = best_tag(after, policy)
        if best is None:
            raise RepairError(
                f"{ctx.label}: the binaries and the libraries to graft share no "
                "architecture a macOS tag can name"
            )
        chosen = best
        if options.plat != "auto":
            try:
                chosen = PlatformTag.parse(options.plat)
            except TagError:
                raise TagError(f"--plat: unknown platform tag {options.plat!r}") from None
            if chosen.family != "macosx":
                raise RepairError(f"{ctx.label}: --plat {chosen.name} is not a macOS tag")
            problems = tag_problems(chosen, after, policy)
            if problems:
                shown = "; ".join(
                    f"{labels.get(f.member or '', f.member)}: {f.message}" for f in problems[:3]
                )
                raise RepairError(f"{ctx.label}: cannot reach {chosen.name}: {shown}")
        floor = options.require_target_macos
        if floor is not None and chosen.version is not None and chosen.version > floor:
            needs = "; ".join(
                f"{labels.get(label, label)} ({s.arch} slice) needs macOS {fmt(s.minos or ())}"
                for label, s in deciders[:3]
            )
            raise RepairError(
                f"{ctx.label}: --require-target-macos-version {fmt(floor)}: the repaired "
                f"wheel needs macOS {fmt(chosen.version)}" + (f" ({needs})" if needs else "")
            )
        notes = []
        for claimed in ctx.claimed:
            if claimed.family == "macosx" and claimed != chosen:
                why = [
                    f"{labels.get(label, label)} ({s.arch} slice) needs macOS {fmt(s.minos or ())}"
                    for label, s in deciders[:2]
                ]
                lost = tag_archs(claimed.arch) - tag_archs(chosen.arch)
                why += [
                    f"{labels.get(label, label)} has no "
                    f"{', '.join(sorted(lost - set(b.archs)))} slice"
                    for label, b in after.items()
                    if lost - set(b.archs)
                ][:2]
                notes.append(
                    f"retagged {claimed.name} -> {chosen.name}"
                    + (f": {'; '.join(why)}" if why else "")
                )
        return chosen, notes
