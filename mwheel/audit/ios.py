"""iOS rules (PEP 730): Mach-O binaries against ``ios_<major>_<minor>_<arch>_<sdk>`` tags.

A wheel honours ``ios_13_0_arm64_iphoneos`` when every Mach-O member has an arm64 slice
built for the iOS device platform (LC_BUILD_VERSION platform 2; the simulator's is 7, and a
macOS slice is no iOS code), no slice needs an iOS newer than 13.0 (``minos``; a slice built
for the first iOS of its SDK and architecture constrains nothing: arm64 simulators start at
iOS 14), and every library it loads is bundled or a system one (``/usr/lib``,
``/System/Library``, and the Python framework the app embeds, ``@rpath/Python.framework``).
An app's build step moves each binary module into ``Frameworks/`` as a framework (PEP 730),
which takes MH_DYLIB files whose name says the SDK (``.cpython-313-iphoneos.so``); a module
built for the other SDK, or as an MH_BUNDLE, is reported. Data in ``policies/ios.json``.

Repair is not offered: the app's build step, not the wheel, bundles and signs frameworks.
"""

from __future__ import annotations

import re

from mwheel.audit.context import WheelContext
from mwheel.audit.findings import Finding, Severity
from mwheel.audit.macos_resolve import MacResolver
from mwheel.audit.resolve import excluded_names
from mwheel.audit.verdict import PlatformVerdict, explained
from mwheel.binary.model import Binary, MachOSlice
from mwheel.policies.mobile import IOSPolicy, ios_policy
from mwheel.tags import PlatformTag

_SUFFIX_SDK = re.compile(r"\.cpython-\d+t?-(iphoneos|iphonesimulator)\.so$")


def _need(s: MachOSlice, arch_sdk: str, policy: IOSPolicy) -> tuple[int, int] | None:
    """The iOS version a slice needs; None when it is no more than its platform's first."""
    if s.minos is None:
        return None
    version = (s.minos[0], s.minos[1])
    return version if version > policy.floor(arch_sdk) else None


def _sdk_of(s: MachOSlice, policy: IOSPolicy) -> str | None:
    return next((sdk for sdk, p in policy.platforms.items() if p == s.platform), None)


def _slice_kinds(binary: Binary, policy: IOSPolicy) -> dict[str, MachOSlice]:
    """``<arch>_<sdk>`` -> slice, for the slices built for an iOS platform."""
    assert binary.macho is not None
    out: dict[str, MachOSlice] = {}
    for s in binary.macho.slices:
        sdk = _sdk_of(s, policy)
        if sdk is not None:
            out.setdefault(f"{s.arch}_{sdk}", s)
    return out


class IOSRules:
    os = "ios"

    def evaluate(self, ctx: WheelContext) -> PlatformVerdict:
        policy = ios_policy()
        machos = {m: b for m, b in ctx.binaries.items() if b.format == "macho"}
        claimed = [t for t in ctx.claimed if t.os == "ios"]
        kinds = {m: _slice_kinds(b, policy) for m, b in machos.items()}
        common = set.intersection(*(set(k) for k in kinds.values())) if kinds else set()
        choice = next((t.arch for t in claimed if t.arch in common), None)
        arch_sdk = choice or (sorted(common)[0] if common else None)

        graph = MacResolver(ctx, policy.system_prefixes).resolve()
        excluded = excluded_names(graph, ctx.options.exclude)
        unbundled = [
            d
            for d in graph.dependencies
            if d.kind in ("external", "missing")
            and d.name not in excluded
            and d.needed_by in machos
        ]
        findings = self._layout_findings(machos, claimed)
        best_tag: str | None = None
        if arch_sdk is not None and not unbundled:
            needs = [n for k in kinds.values() if (n := _need(k[arch_sdk], arch_sdk, policy))]
            # Slices at their platform's first iOS constrain nothing: then the claimed
            # version stands (arm64 simulators of an ios_13_0 wheel say 14.0), else that first.
            unconstrained = next(
                (t.version for t in claimed if t.arch == arch_sdk and t.version),
                policy.floor(arch_sdk),
            )
            version = max(needs) if needs else unconstrained
            best_tag = PlatformTag("ios", version, arch_sdk).name

        honoured: dict[str, bool] = {}
        for tag in claimed:
            problems = self._tag_problems(tag, machos, kinds, policy)
            problems += [
                Finding(
                    "ios-library-external",
                    d.needed_by,
                    f"loads {d.name}, neither bundled nor an iOS system library",
                    tag=tag.name,
                    details=(("library", d.name),),
                )
                for d in unbundled
            ]
            honoured[tag.name] = not problems and not any(
                f.severity == "error" and f.tag is None for f in findings
            )
            findings += problems
        severity: Severity = "error" if claimed else "warning"
        if not claimed:
            findings += [
                Finding(
                    "ios-library-external",
                    d.needed_by,
                    f"loads {d.name}, neither bundled nor an iOS system library",
                    severity=severity,
                    details=(("library", d.name),),
                )
                for d in unbundled
            ]
        return explained(
            PlatformVerdict(honoured, best_tag, None, graph, tuple(findings), arch_sdk or "", "ios")
        )

    @staticmethod
    def _tag_problems(
        tag: PlatformTag,
        machos: dict[str, Binary],
        kinds: dict[str, dict[str, MachOSlice]],
        policy: IOSPolicy,
    ) -> list[Finding]:
        assert tag.version is not None
        arch, _, sdk = tag.arch.rpartition("_")
        out: list[Finding] = []
        if arch not in policy.archs.get(sdk, frozenset()):
            out.append(
                Finding(
                    "architecture-mismatch",
                    None,
                    f"{tag.name}: the {sdk} SDK has no {arch}",
                    tag=tag.name,
                )
            )
            return out
        want = policy.platforms[sdk]
        for member, binary in machos.items():
            s = kinds[member].get(tag.arch)
            if s is None:
                assert binary.macho is not None
                others = [sl for sl in binary.macho.slices if sl.arch == arch]
                if others:
                    got = ", ".join(sorted({str(o.platform) for o in others}))
                    out.append(
                        Finding(
                            "ios-platform-mismatch",
                            member,
                            f"its {arch} slice is built for {got}, {tag.name} needs {want}",
                            tag=tag.name,
                        )
                    )
                else:
                    have = ", ".join(sorted(sl.arch for sl in binary.macho.slices))
                    out.append(
                        Finding(
                            "architecture-mismatch",
                            member,
                            f"has no {arch} slice ({have}), {tag.name} needs one",
                            tag=tag.name,
                        )
                    )
                continue
            need = _need(s, tag.arch, policy)
            if need is not None and need > tag.version:
                out.append(
                    Finding(
                        "ios-version-too-high",
                        member,
                        f"its {arch} slice needs iOS {need[0]}.{need[1]} (minos), "
                        f"{tag.name} says {tag.version[0]}.{tag.version[1]}",
                        tag=tag.name,
                        details=(("minos", f"{need[0]}.{need[1]}"),),
                    )
                )
        return out

    @staticmethod
    def _layout_findings(machos: dict[str, Binary], claimed: list[PlatformTag]) -> list[Finding]:
        """PEP 730: binary modules become frameworks, which take MH_DYLIB files built for
        the SDK their file name (and the tag) says."""
        out: list[Finding] = []
        sdks = {t.arch.rpartition("_")[2] for t in claimed}
        for member, binary in machos.items():
            if not member.endswith(".so"):
                continue
            assert binary.macho is not None
            if any(s.filetype == "MH_BUNDLE" for s in binary.macho.slices):
                out.append(
                    Finding(
                        "ios-framework-layout",
                        member,
                        "is an MH_BUNDLE; an app's Frameworks/ takes MH_DYLIB files "
                        "(link with -dynamiclib, not -bundle)",
                        severity="warning",
                    )
                )
            m = _SUFFIX_SDK.search(member)
            if m and sdks and m[1] not in sdks:
                out.append(
                    Finding(
                        "ios-framework-layout",
                        member,
                        f"is named for the {m[1]} SDK, the wheel is tagged for "
                        f"{', '.join(sorted(sdks))}",
                    )
                )
        return out
