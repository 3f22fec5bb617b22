"""The Linux repair planner: which libraries to graft where, and each ELF file's edits.

Every external library (and what it needs in turn) is copied into ``<dist>.libs/`` under a
content-hashed name; every binary that needs one gets its DT_NEEDED renamed and a RUNPATH
``$ORIGIN/<relative path>`` to that directory; absolute RPATH/RUNPATH entries, which would
let the wheel load libraries from the build machine, are dropped. The new tag is the best
policy the wheel honours once grafted.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable

from mwheel.audit.context import WheelContext
from mwheel.audit.findings import Finding
from mwheel.audit.linux import check_policy, elf_binaries, no_policy_reason, requirements
from mwheel.audit.linux_checks import oldest_python
from mwheel.audit.linux_libc import libc_of
from mwheel.audit.linux_resolve import expand_origin, search_dirs
from mwheel.audit.verdict import PlatformVerdict
from mwheel.binary.model import Binary
from mwheel.errors import RepairError, TagError
from mwheel.policies import LinuxPolicy, linux_policies, policy_for
from mwheel.repair.graft import file_sha256, graftable, hashed_name
from mwheel.repair.model import FileEdit, Graft, PlatformPlan, RepairOptions
from mwheel.tags import PlatformTag, names_with_aliases


def _libs_dir(ctx: WheelContext, member: str, suffix: str = ".libs") -> str:
    """Where grafts for ``member`` go: beside site-packages, or under the data scheme for
    executables in ``.data/scripts`` (installed to ``<prefix>/bin``, so ``../lib`` works for
    every prefix layout). ``suffix``: ``--lib-sdir``, appended to the distribution name."""
    install = ctx.install_path(member)
    if install.startswith("<"):
        return f"{ctx.data_dir}/data/lib/{ctx.dist_name}{suffix}"
    return f"{ctx.dist_name}{suffix}"


def _relative_origin(from_install_dir: str, to_install_dir: str) -> str:
    rel = posixpath.relpath(to_install_dir or ".", from_install_dir or ".")
    return "$ORIGIN" if rel == "." else f"$ORIGIN/{rel}"


def _install_dir_of(ctx: WheelContext, member: str) -> str:
    install = ctx.install_path(member)
    if install.startswith("<"):
        # <scripts>/tool installs to <prefix>/bin/tool; <data>/x to <prefix>/x.
        scheme, _, rest = install[1:].partition(">/")
        base = {"scripts": "<prefix>/bin", "data": "<prefix>"}.get(scheme, f"<prefix>/{scheme}")
        return posixpath.dirname(posixpath.join(base, rest))
    return posixpath.dirname(install)


def _libs_install_dir(ctx: WheelContext, libs_member_dir: str) -> str:
    prefix = f"{ctx.data_dir}/data/"
    if libs_member_dir.startswith(prefix):
        return "<prefix>/" + libs_member_dir[len(prefix) :]
    return libs_member_dir


class LinuxPlanner:
    def plan(
        self, ctx: WheelContext, verdict: PlatformVerdict, options: RepairOptions
    ) -> PlatformPlan:
        graph = verdict.graph
        excluded, notes = graftable(ctx, graph, options.exclude, "needed")
        provided = {d.name: d.provided for d in graph.dependencies if d.provided is not None}
        notes += [f"not grafted: {name}, {p.describe()}" for name, p in sorted(provided.items())]
        suffix = options.lib_sdir or ".libs"

        # Grafts: one per (library real path, destination directory).
        grafts: dict[tuple[str, str], Graft] = {}
        by_name: dict[str, str] = {}  # soname -> real path
        for ext in graph.externals:
            if ext.name in excluded or ext.path is None:
                continue
            by_name[ext.name] = os.path.realpath(ext.path)

        def graft_for(soname: str, needer: str) -> Graft:
            real = by_name[soname]
            libs = (
                _libs_dir(ctx, needer, suffix) if needer in ctx.binaries else _graft_dir_of(needer)
            )
            key = (real, libs)
            if key not in grafts:
                digest = file_sha256(real)
                new = hashed_name(soname, digest, ".so")
                grafts[key] = Graft(soname, real, f"{libs}/{new}", new, digest)
            return grafts[key]

        graft_dir_by_path: dict[str, str] = {}

        def _graft_dir_of(host_path: str) -> str:
            return graft_dir_by_path.get(host_path, f"{ctx.dist_name}{suffix}")

        edits: list[FileEdit] = []
        elfs = elf_binaries(ctx)
        for member, binary in elfs.items():
            edit = self._member_edit(
                ctx, member, binary, verdict, by_name, graft_for, graft_dir_by_path
            )
            if edit is not None:
                edits.append(edit)
        # Edits of the grafted copies: their own needs point at their sibling grafts.
        pending = list(grafts.values())
        seen: set[str] = set()
        while pending:
            g = pending.pop()
            if g.member in seen:
                continue
            seen.add(g.member)
            ext = next(e for e in graph.externals if e.name == g.name)
            graft_dir = posixpath.dirname(g.member)
            replace: list[tuple[str, str]] = []
            grafted_deps = [d for d in graph.for_binary(ext.path or "") if d.name in by_name]
            for dep in grafted_deps:
                graft_dir_by_path[by_name[dep.name]] = graft_dir
                sub = graft_for(dep.name, by_name[dep.name])
                if sub.member not in seen:
                    pending.append(sub)
                if sub.new_name != dep.name:
                    replace.append((dep.name, sub.new_name))
            edits.append(
                FileEdit(
                    g.member,
                    "elf",
                    replace=tuple(replace),
                    rpaths=("$ORIGIN",) if grafted_deps else (),
                    soname=g.new_name,
                    strip=options.strip,
                )
            )

        tags, tag_notes = self._tags(ctx, verdict, options, excluded)
        notes += tag_notes
        return PlatformPlan(
            grafts=tuple(sorted(grafts.values(), key=lambda g: g.member)),
            edits=tuple(edits),
            platform_tags=tuple(tags),
            notes=tuple(notes),
        )

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
        assert binary.elf is not None
        deps = verdict.graph.for_binary(member)
        origin_dir = _install_dir_of(ctx, member)
        replace: list[tuple[str, str]] = []
        new_dirs: list[str] = []
        remove = tuple(d.name for d in deps if d.name.startswith("libpython"))
        for dep in deps:
            if dep.name in by_name:
                g = graft_for(dep.name, member)
                graft_dir_by_path.setdefault(by_name[dep.name], posixpath.dirname(g.member))
                if g.new_name != dep.name:
                    replace.append((dep.name, g.new_name))
                new_dirs.append(_libs_install_dir(ctx, posixpath.dirname(g.member)))
            elif dep.kind == "bundled" and not dep.reachable and dep.member:
                new_dirs.append(posixpath.dirname(ctx.install_path(dep.member)))
            elif dep.provided and dep.provided.via is None and dep.provided.install_path:
                # A declared dependency's library that no RUNPATH entry reaches: point one
                # at where that dependency installs it (providers.py), as torch does.
                new_dirs.append(posixpath.dirname(dep.provided.install_path))
        old = search_dirs(binary)
        kept = [e for e in old if "$ORIGIN" in e or "${ORIGIN}" in e]
        kept = [e for e in kept if _inside_wheel(expand_origin(e, origin_dir))]
        wanted = list(dict.fromkeys(kept + [_relative_origin(origin_dir, d) for d in new_dirs]))
        rpath_changed = wanted != list(old)
        if not (replace or remove or rpath_changed):
            return None
        return FileEdit(
            member,
            "elf",
            replace=tuple(replace),
            rpaths=tuple(wanted) if rpath_changed else None,
            remove=remove,
        )

    @staticmethod
    def _tags(
        ctx: WheelContext,
        verdict: PlatformVerdict,
        options: RepairOptions,
        excluded: frozenset[str],
    ) -> tuple[list[str], list[str]]:
        arch, family = verdict.arch, verdict.family
        policies = linux_policies()[family]
        after = requirements(
            elf_binaries(ctx),
            verdict.graph,
            grafted=True,
            excluded=excluded,
            python=oldest_python(ctx.claimed_interpreters),
        )
        results = [(p, check_policy(after, p, arch)) for p in policies]
        notes: list[str] = []
        best = next((p for p, v in results if not v and p.preferred), None)
        if options.plat != "auto":
            try:
                target = PlatformTag.parse(options.plat)
            except TagError:
                raise TagError(f"--plat: unknown platform tag {options.plat!r}") from None
            policy = policy_for(target) if target.family != "linux" else None
            if target.family != "linux" and policy is None:
                raise TagError(
                    f"--plat: unknown platform tag {target.name}: {no_policy_reason(target)}"
                )
            if target.arch != arch:
                raise RepairError(
                    f"{ctx.label}: --plat {target.name} is for {target.arch}, "
                    f"the wheel's binaries are {arch}"
                )
            if policy is not None:
                problems = dict(results).get(policy) if policy.family == family else None
                if problems is None:
                    raise RepairError(
                        f"{ctx.label}: the binaries are for {verdict.family}, not {target.name}"
                    )
                if problems:
                    why = "; ".join(f"{f.member}: {f.message}" for f in problems[:3])
                    more = f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
                    raise RepairError(f"{ctx.label}: cannot reach {target.name}: {why}{more}")
            if options.only_plat or best is None or policy is None:
                chosen = target
            else:
                chosen = best.tag(arch) if best.version <= policy.version else target
        elif best is not None:
            chosen = best.tag(arch)
        else:
            raise RepairError(_unreachable(ctx.label, family, arch, results))
        tags = [chosen.name] if options.only_plat else names_with_aliases(chosen)
        elfs = elf_binaries(ctx)
        neutral = not any(libc_of(m, b) for m, b in elfs.items())
        other_family = "musllinux" if family == "manylinux" else "manylinux"
        # Static executables need no libc: they keep a claimed tag of the other family too,
        # at that family's best policy.
        if (
            neutral
            and options.plat == "auto"
            and not options.only_plat
            and any(c.family == other_family for c in ctx.claimed)
        ):
            other = next(
                (
                    p
                    for p in linux_policies()[other_family]
                    if p.preferred and not check_policy(after, p, arch)
                ),
                None,
            )
            if other is not None:
                extra = names_with_aliases(other.tag(arch))
                # manylinux first, as wheels built for both name them.
                tags = extra + tags if other_family == "manylinux" else tags + extra
        for claimed in ctx.claimed:
            if (
                claimed.family in ("manylinux", "musllinux")
                and claimed.name not in tags
                and claimed.legacy_name not in tags
            ):
                policy = policy_for(claimed)
                if claimed.family != family and not neutral:
                    libc = "musl" if family == "musllinux" else "glibc"
                    notes.append(f"dropped claimed tag {claimed.name}: the binaries are for {libc}")
                    continue
                problems = dict(results).get(policy, []) if policy else []
                if claimed.family != family and policy is not None:
                    problems = check_policy(after, policy, arch)
                if problems or policy is None or claimed.arch != arch:
                    reason = f": {problems[0].message}" if problems else ""
                    notes.append(f"dropped claimed tag {claimed.name}{reason}")
                else:
                    notes.append(
                        f"replaced claimed tag {claimed.name} by the more compatible {tags[0]}"
                    )
        return tags, notes


def _unreachable(
    label: str, family: str, arch: str, results: list[tuple[LinuxPolicy, list[Finding]]]
) -> str:
    """Why no policy is reachable: a repair writes no wheel PyPI would refuse (linux_*)
    unless the user asks for that tag."""
    hint = f"pass --plat linux_{arch} to write a linux_{arch} wheel anyway (PyPI refuses it)"
    candidates = [(p, v) for p, v in results if arch in p.architectures]
    if not candidates:
        return f"{label}: no {family} tag exists for {arch}; {hint}"
    newest, problems = candidates[-1]
    shown = "; ".join(f"{f.member}: {f.message}" for f in problems[:3])
    more = f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
    return f"{label}: no {family} tag is reachable, not even {newest.name}: {shown}{more}; {hint}"


def _inside_wheel(path: str) -> bool:
    """Whether an $ORIGIN-expanded install path stays within site-packages (or the prefix)."""
    norm = posixpath.normpath(path)
    return not (norm == ".." or norm.startswith("../") or norm.startswith("/"))
