"""Linux rules: manylinux (PEP 600) and musllinux (PEP 656) policies against ELF binaries.

A wheel honours a policy when every ELF member runs on the policy's architecture, needs
only libraries that are bundled or allowed, needs no symbol version outside the allowed
sets, uses no forbidden symbol of an allowed library, imports no function that only a newer
policy's libc has (musl, which has no symbol versions), and needs no newer x86-64 ISA level.
Policies are ordered oldest first and each allows more than the last, so the best tag is
the first policy with no violation.
"""

from __future__ import annotations

import re
from collections import Counter

from mwheel.audit.context import WheelContext
from mwheel.audit.findings import Finding, Severity
from mwheel.audit.linux_checks import (
    Summaries,
    check_policy,
    elf_binaries,
    oldest_python,
    requirements,
)
from mwheel.audit.linux_libc import arm_abi_text, is_armhf, libc_of
from mwheel.audit.linux_resolve import LinuxResolver
from mwheel.audit.resolve import DependencyGraph, excluded_names
from mwheel.audit.verdict import PlatformVerdict, explained
from mwheel.binary.model import Binary
from mwheel.policies import LinuxPolicy, linux_policies, policy_for
from mwheel.tags import PlatformTag

__all__ = ["LinuxRules", "check_policy", "elf_binaries", "no_policy_reason", "requirements"]


class LinuxRules:
    os = "linux"

    def evaluate(self, ctx: WheelContext) -> PlatformVerdict:
        elfs = elf_binaries(ctx)
        findings: list[Finding] = []
        claimed = [t for t in ctx.claimed if t.is_linux]
        arch_counts = Counter(b.archs[0] for b in elfs.values())
        claimed_archs = [t.arch for t in claimed]
        arch = next(
            (a for a in claimed_archs if a in arch_counts), arch_counts.most_common(1)[0][0]
        )
        for member, b in elfs.items():
            if arch == "armv7l" and is_armhf(b) and _runs_on_arm_machine(b.archs[0], arch):
                # An armv7l wheel may bundle a hard-float library built for an older core
                # (pydantic-core's musllinux armv7l wheel: libgcc_s is ARMv5TE): ARMv7 runs
                # that code and the float ABI matches, so the library loads.
                findings.append(
                    Finding(
                        "architecture-mismatch",
                        member,
                        f"is {b.archs[0]} ({arm_abi_text(b)}), older than the wheel's armv7l "
                        "code; ARMv7 runs it (same hard-float ABI)",
                        severity="warning",
                    )
                )
                continue
            if b.archs[0] != arch:
                findings.append(
                    Finding(
                        "architecture-mismatch",
                        member,
                        f"is {b.archs[0]}, the wheel is {arch}{_arm_why(b)}",
                    )
                )

        libcs = {m: libc_of(m, b) for m, b in elfs.items()}
        claimed_families = {t.family for t in claimed} - {"linux"}
        libc = _wheel_libc(set(libcs.values()), claimed_families)
        for member, other in libcs.items():
            if other is not None and other != libc:
                findings.append(
                    Finding(
                        "libc-mismatch",
                        member,
                        f"is linked against {other}, the wheel is for {libc}",
                    )
                )
        family = "musllinux" if libc == "musl" else "manylinux"
        policies = linux_policies()[family]
        graph = LinuxResolver(ctx, policies[-1].libraries, arch, libc).resolve()

        excluded = excluded_names(graph, ctx.options.exclude)
        python = oldest_python(ctx.claimed_interpreters)
        memo: Summaries = {}
        as_is = requirements(elfs, graph, False, excluded, python, memo)
        results = [(p, check_policy(as_is, p, arch)) for p in policies]
        best = next((p for p, v in results if not v and p.preferred), None)
        best_tag = best.tag(arch).name if best else f"linux_{arch}"

        repair_tag: str | None = None
        if not any(e.path is None and e.name not in excluded for e in graph.externals):
            after = requirements(elfs, graph, True, excluded, python, memo)
            fixed = next(
                (p for p in policies if p.preferred and not check_policy(after, p, arch)), None
            )
            # None: no manylinux/musllinux tag is reachable, and repair refuses to write a
            # linux_* wheel unless asked to (--plat linux_<arch>).
            repair_tag = fixed.tag(arch).name if fixed else None

        honoured: dict[str, bool] = {}
        for tag in claimed:
            if tag.family == "linux" and _runs_on_arm_machine(arch, tag.arch):
                # pip installs linux_armv7l on every armv7l machine (Raspberry Pi OS builds
                # ARMv6 hard-float code for such tags): the older core's code runs there.
                findings.append(
                    Finding(
                        "architecture-mismatch",
                        None,
                        f"the binaries are {arch}"
                        + next((_arm_why(b) for b in elfs.values() if b.archs[0] == arch), "")
                        + f"; they also run on the {tag.arch} machines {tag.name} is for",
                        severity="warning",
                        tag=tag.name,
                    )
                )
                honoured[tag.name] = True
                continue
            if tag.arch != arch:
                findings.append(
                    Finding(
                        "architecture-mismatch",
                        None,
                        f"the binaries are {arch}, the tag {tag.name} is for {tag.arch}"
                        + next((_arm_why(b) for b in elfs.values() if b.archs[0] == arch), ""),
                        tag=tag.name,
                    )
                )
                honoured[tag.name] = False
                continue
            if tag.family == "linux":
                honoured[tag.name] = True
                continue
            policy = policy_for(tag)
            if policy is None:
                findings.append(
                    Finding("unknown-platform-tag", None, no_policy_reason(tag), tag=tag.name)
                )
                honoured[tag.name] = False
                continue
            if tag.family != family:
                if any(libcs.values()):
                    other = "musl" if tag.family == "musllinux" else "glibc"
                    findings.append(
                        Finding(
                            "libc-mismatch",
                            None,
                            f"the binaries are linked against {libc}, {tag.name} is for {other}",
                            tag=tag.name,
                        )
                    )
                    honoured[tag.name] = False
                    continue
                # No binary names a libc (static executables): the other family's policy
                # judges the same requirements.
                problems = check_policy(as_is, policy, arch)
                honoured[tag.name] = not problems
                findings.extend(problems)
                continue
            problems = dict(results)[policy]
            honoured[tag.name] = not problems
            findings.extend(problems)

        if best is None:
            # No policy for the binaries: the claimed linux tag they honour is the best one.
            best_tag = next(
                (t.name for t in claimed if t.family == "linux" and honoured.get(t.name)),
                best_tag,
            )
        self._explain_best(
            findings,
            [(p, v) for p, v in results if p.preferred and arch in p.architectures],
            best,
            arch,
        )
        self._external_findings(findings, graph, claimed_families, excluded)
        findings.extend(_relr_warnings(elfs, [best, *(policy_for(t) for t in claimed)], arch))
        return explained(
            PlatformVerdict(honoured, best_tag, repair_tag, graph, tuple(findings), arch, family)
        )

    @staticmethod
    def _explain_best(
        findings: list[Finding],
        results: list[tuple[LinuxPolicy, list[Finding]]],
        best: LinuxPolicy | None,
        arch: str,
    ) -> None:
        """Say which symbols keep the wheel from the next more compatible tag."""
        index = next((i for i, (p, _) in enumerate(results) if p is best), len(results))
        if index == 0:
            return
        blocked, problems = results[index - 1]
        target = PlatformTag(blocked.family, blocked.version, arch).name
        for f in problems:
            findings.append(
                Finding(
                    "best-tag-constraint",
                    f.member,
                    f"{f.message} (keeps the wheel from {target})",
                    severity="info",
                    tag=target,
                    details=f.details,
                )
            )

    @staticmethod
    def _external_findings(
        findings: list[Finding],
        graph: DependencyGraph,
        claimed_families: set[str],
        excluded: frozenset[str],
    ) -> None:
        severity: Severity = "error" if claimed_families else "warning"
        for dep in graph.dependencies:
            if dep.kind == "missing" and dep.name not in excluded:
                findings.append(
                    Finding(
                        "library-not-found",
                        dep.needed_by,
                        f"needs {dep.name}, found neither in the wheel nor on "
                        "the library path (try --lib-path)",
                        severity=severity,
                        details=(("library", dep.name),),
                    )
                )
            elif dep.name.startswith("libpython") and not claimed_families:
                # With a manylinux/musllinux claim the policy check reports it as an error.
                findings.append(
                    Finding(
                        "libpython-linked",
                        dep.needed_by,
                        f"links {dep.name}; manylinux and musllinux forbid it (PEP 513), "
                        "`mwheel repair` removes it",
                        severity="warning",
                        details=(("library", dep.name),),
                    )
                )
            elif dep.kind == "bundled" and not dep.reachable:
                findings.append(
                    Finding(
                        "library-not-on-search-path",
                        dep.needed_by,
                        f"needs {dep.name}, bundled as {dep.member} but not on "
                        "its RUNPATH; `mwheel repair` sets one",
                        severity="warning",
                        details=(("library", dep.name),),
                    )
                )


def _wheel_libc(libcs: set[str | None], claimed_families: set[str]) -> str:
    """The libc the wheel is judged for: the binaries' own, else the claimed family's (glibc
    when both are claimed: libc-neutral static executables honour both, and the best tag is
    then the manylinux one, as installers on glibc, the more common, see it)."""
    named = libcs - {None}
    if len(named) == 1:
        return str(next(iter(named)))
    if "manylinux" in claimed_families:
        return "glibc"
    if "musllinux" in claimed_families:
        return "musl"
    return "musl" if "musl" in named else "glibc"


def _runs_on_arm_machine(binary_arch: str, machine: str) -> bool:
    """Whether ARM code of an older core (armv6l, armv5tel) runs on a ``machine`` pip names
    armv6l, armv7l or armv8l (32-bit userland on a 64-bit kernel): ARM cores run the code of
    the older ones. Pre-v6 machine names are left alone: their uname spellings vary
    (armv5tel, armv5tejl), so a tag cannot say which one pip would pick."""
    older = re.fullmatch(r"armv(\d+)[a-z]*l", binary_arch)
    newer = re.fullmatch(r"armv([678])l", machine)
    return bool(older and newer and binary_arch != machine and int(older[1]) <= int(newer[1]))


def _arm_why(binary: Binary) -> str:
    """For an ARM file that is not armv7l: what its attributes and flags say it is."""
    if binary.elf is None or binary.elf.machine != "EM_ARM":
        return ""
    return f" ({arm_abi_text(binary)}; armv7l tags need ARMv7 or later, hard-float)"


def _relr_warnings(
    elfs: dict[str, Binary], policies: list[LinuxPolicy | None], arch: str
) -> list[Finding]:
    """DT_RELR files under a policy whose early releases lack it (musllinux_1_2: musl 1.2.4)."""
    out: list[Finding] = []
    seen: set[str] = set()
    for policy in policies:
        if policy is None or policy.dt_relr is None or policy.name in seen:
            continue
        seen.add(policy.name)
        release = tuple(int(p) for p in policy.dt_relr.split("."))
        if release[:2] != policy.version or len(release) < 3 or release[2] == 0:
            continue
        base = ".".join(map(str, release[:2]))
        older = f"{base}.0" if release[2] == 1 else f"{base}.0 to {base}.{release[2] - 1}"
        for member, b in elfs.items():
            if b.elf is not None and b.elf.relr:
                out.append(
                    Finding(
                        "dt-relr-needs-newer-libc",
                        member,
                        f"uses DT_RELR (packed relative relocations), which only "
                        f"{policy.libc} {policy.dt_relr} and later apply: it crashes on "
                        f"{policy.name} systems with {policy.libc} {older}",
                        severity="warning",
                        tag=policy.tag(arch).name,
                    )
                )
    return out


def no_policy_reason(tag: PlatformTag) -> str:
    """Why no policy defines ``tag``: where that family's tags for the architecture start."""
    first = next(
        (p for p in linux_policies().get(tag.family, ()) if tag.arch in p.architectures), None
    )
    if first is None:
        return f"no policy defines {tag.name}: installers know no {tag.family} tag for {tag.arch}"
    return (
        f"no policy defines {tag.name}: {tag.family} tags for {tag.arch} start at "
        f"{first.tag(tag.arch).name}, installers never pick an older one"
    )
