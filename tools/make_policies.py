"""Regenerate ``mwheel/policies/manylinux.json`` and ``mwheel/policies/musllinux.json``.

The JSON files are committed; this script is the single place their facts live. Run
``python tools/make_policies.py`` from anywhere; it rewrites both files deterministically.

Where the facts come from:

* PEP 513 (manylinux1 = manylinux_2_5), PEP 571 (manylinux2010 = manylinux_2_12), PEP 599
  (manylinux2014 = manylinux_2_17, which adds aarch64, armv7l, ppc64le and s390x) and PEP 600
  (perennial ``manylinux_<glibc major>_<glibc minor>`` tags): tag names, aliases and the
  library whitelist.
* PEP 656 (``musllinux_<musl major>_<musl minor>``) and musl's dynamic loader naming
  (``ld-musl-<ldso arch>.so.1``); Alpine names musl's soname ``libc.musl-<arch>.so.1``.
* glibc: the ``GLIBC_x.y`` symbol version nodes each release defines per architecture, and the
  release that first supported each architecture (aarch64 2.17; riscv64 2.27; loongarch64 2.36,
  loader ``ld-linux-loongarch-lp64d.so.1``; the armhf loader ``ld-linux-armhf.so.3`` 2.16;
  ppc64le's ABI baseline node is ``GLIBC_2.17``; big-endian ppc64 (ELFv1, ``ld64.so.1``) and
  s390x since 2.2/2.3). ``GLIBC_ABI_DT_RELR`` appeared in glibc 2.36, the first glibc whose
  loader applies DT_RELR; musl's loader applies it from 1.2.4 (musl's WHATSNEW).
* packaging's ``_manylinux``/``_musllinux`` (what pip installs): manylinux tags below 2_17 only
  on x86_64 and i686, and only for the architectures it lists; each policy's architectures
  start where both glibc and pip allow (``INSTALLABLE_*`` below, copied into the JSON so the
  loader can refuse a policy that offers a tag no installer picks).
* GCC: the libstdc++ ABI documentation (``GLIBCXX_3.4.x`` / ``CXXABI_1.3.x`` per GCC release)
  and libgcc's ``GCC_x.y.z`` nodes (libgcc-std.ver plus the per-target version scripts).
* What the manylinux baseline images actually ship (libstdc++, libgcc_s, libatomic, zlib) and
  the symbols to refuse from whitelisted libraries, as recorded in the policy files of
  pypa/auditwheel 6.8.2. Every policy auditwheel defines comes out of this script with exactly
  its symbol versions, libraries and blacklist, for every architecture listed here.

* musl's WHATSNEW (its release notes; read here from Debian's musl 1.2.3 and 1.2.5 packages,
  ``/usr/share/doc/musl/changelog.gz``): the public functions each release after 1.1.24 (the
  last 1.1.x) added. musl has no symbol versioning, so these names are the only trace a newer
  musl leaves in a binary. The time64 names of the 32-bit architectures are musl 1.2.0's
  ``__REDIR`` header redirections (``_REDIR_TIME64``), checked against the dynamic symbols of
  musl 1.2.3's i386 and armhf ``libc.so``; the 1.2.5 additions against musl 1.2.5's x86_64 one.

Tags auditwheel does not define (e.g. manylinux_2_6 .. 2_11) are derived: GLIBC nodes are all
of the architecture's nodes up to that glibc release, and the toolchain/library sets are those
of the newest baseline image at or below it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

OUT_DIR = Path(__file__).resolve().parent.parent / "mwheel" / "policies"

ARCHES: tuple[str, ...] = (
    "x86_64",
    "i686",
    "aarch64",
    "ppc64le",
    "s390x",
    "armv7l",
    "riscv64",
    "ppc64",
    "loongarch64",
)
ALL = ARCHES

FIRST_MINOR = 5  # manylinux_2_5 (manylinux1) is the oldest tag
LAST_MINOR = 41

# PEP 600 tags that have a legacy alias.
ALIASES: dict[int, str] = {5: "manylinux1", 12: "manylinux2010", 17: "manylinux2014"}

# Tags with a reference build environment (a manylinux image, and a policy in auditwheel).
# The best tag is picked among these, so a wheel is retagged to a name installers and
# users know (manylinux_2_17, not manylinux_2_14); every other tag is still checked
# when a wheel claims it.
PREFERRED_MINORS = frozenset({5, 12, 17, 24, 26, 27, 28, 31, 34, 35, 36, 37, 38, 39, 40, 41})

# glibc's dynamic loader of each architecture: part of glibc itself, so always present.
GLIBC_LOADERS: tuple[str, ...] = (
    "ld-linux-x86-64.so.2",
    "ld-linux.so.2",
    "ld-linux-aarch64.so.1",
    "ld64.so.2",
    "ld64.so.1",
    "ld-linux-armhf.so.3",
    "ld-linux-riscv64-lp64d.so.1",
    "ld-linux-loongarch-lp64d.so.1",
)

# Which manylinux tags an installer ever picks (packaging/_manylinux.py, ``platform_tags``, the
# code pip vendors): only the architectures in its ``_ALLOWED_ARCHS`` plus armv7l (hard-float
# EABI5 interpreters only) and i686 get manylinux tags at all, and it counts glibc versions
# down to 2.5 on x86_64 and i686 but only down to 2.17 on every other architecture
# ("Oldest glibc to be supported regardless of architecture is (2, 17)"). A tag outside this
# rule is never installed by pip, so no policy may offer it; the loader checks every policy
# against the copy of this rule written into the JSON. musllinux: ``_musllinux.platform_tags``
# counts ``musllinux_1_<minor>`` from the host's minor down to 0 for the interpreter's
# architecture, so every 1.x tag of an architecture musl runs on is installable.
INSTALLABLE_SOURCE = (
    "packaging 26.4 (pip vendors the same rule): packaging/_manylinux.py platform_tags() and "
    "_have_compatible_abi(), packaging/_musllinux.py platform_tags()"
)
INSTALLABLE_ARCHES: tuple[str, ...] = (
    "x86_64",
    "i686",
    "aarch64",
    "ppc64",
    "ppc64le",
    "s390x",
    "armv7l",
    "riscv64",
    "loongarch64",
)
INSTALLABLE_OLDEST: dict[str, str] = {"*": "2.17", "x86_64": "2.5", "i686": "2.5"}

# glibc minor version from which a manylinux tag exists for each architecture: the later of
# the glibc release that supports the architecture and the oldest one pip installs (above).
ARCH_FIRST_MINOR: dict[str, int] = {
    "x86_64": 5,  # supported long before glibc 2.5
    "i686": 5,
    # s390x has been in glibc since 2.2 and armhf since 2.16 (ld-linux-armhf.so.3), but pip
    # offers no manylinux tag below 2_17 there: manylinux_2_5_s390x would never install.
    "s390x": 17,
    "armv7l": 17,
    "ppc64": 17,  # big-endian, ELFv1 (ld64.so.1); PEP 599's manylinux2014 includes it
    "aarch64": 17,  # port added in glibc 2.17
    "ppc64le": 17,  # port merged in 2.19 but its baseline node is GLIBC_2.17 (PEP 599)
    "riscv64": 27,  # port added in glibc 2.27
    "loongarch64": 36,  # port added in glibc 2.36 (manylinux_2_36 is its first image)
}

# GLIBC_* version nodes per architecture. "2.4-2.18" means every 2.x from 2.4 to 2.18.
# Releases with no new node on an architecture are simply absent (2.19-2.21 on most
# architectures; 2.37 on the 64-bit ones other than riscv64).
GLIBC_NODES: dict[str, str] = {
    "x86_64": "2.2.5 2.2.6 2.3 2.3.2 2.3.3 2.3.4 2.4-2.18 2.22-2.36 2.38-2.41",
    "i686": "2.0 2.1 2.1.1 2.1.2 2.1.3 2.2 2.2.1 2.2.2 2.2.3 2.2.4 2.2.6 2.3 2.3.2 2.3.3 2.3.4"
    " 2.4-2.18 2.22-2.41",
    "aarch64": "2.0 2.17 2.18 2.22-2.36 2.38-2.41",
    "ppc64le": "2.0 2.17 2.18 2.22-2.36 2.38-2.41",
    "s390x": "2.2 2.2.1 2.2.2 2.2.3 2.2.4 2.2.6 2.3 2.3.2 2.3.3 2.3.4 2.4-2.19 2.22-2.36 2.38-2.41",
    "armv7l": "2.0 2.4-2.18 2.22-2.41",
    "riscv64": "2.0 2.27-2.41",
    # auditwheel 6.8.2's manylinux_2_17 ppc64 list (every node up to 2.17), then as ppc64le.
    "ppc64": "2.0 2.1 2.1.1 2.1.2 2.1.3 2.2 2.2.1 2.2.2 2.2.3 2.2.4 2.2.5 2.2.6 2.3 2.3.2"
    " 2.3.3 2.3.4 2.4-2.18 2.22-2.36 2.38-2.41",
    "loongarch64": "2.0 2.36 2.38-2.41",
}
# Non-numeric GLIBC nodes: glibc minor from which they are allowed.
GLIBC_SPECIAL_NODES: dict[str, int] = {"ABI_DT_RELR": 36}
# Nodes allowed earlier or later than their number says, per the baseline images.
GLIBC_NODE_MINOR_OVERRIDES: dict[tuple[str, str], int] = {
    ("aarch64", "2.18"): 17,  # the manylinux2014 (CentOS 7) aarch64 glibc exports GLIBC_2.18
    ("riscv64", "ABI_DT_RELR"): 38,  # first riscv64 baseline image with it is manylinux_2_38
}

# Baseline images (the glibc minor of the manylinux tag they define) and the toolchain they
# ship, for reading the table below: 5 gcc 4.1, 12 gcc 4.4, 17 gcc 4.8, 24 gcc 6, 26/27 gcc 7,
# 31 gcc 10 (libstdc++ GLIBCXX_3.4.28), 34 gcc 11, 35 gcc 12, 39 gcc 14.
# Rows: namespace, baseline image (glibc minor) from which the versions are allowed,
# versions, architectures whose libraries define them, per-architecture deviations.
# Architecture-specific nodes are dated to the first baseline image of that architecture.
Row = tuple[str, int, str, tuple[str, ...], dict[str, int]]
TOOLCHAIN: list[Row] = [
    # libstdc++.so.6
    ("GLIBCXX", 5, "3.4 3.4.1 3.4.2 3.4.3 3.4.4 3.4.5 3.4.6 3.4.7 3.4.8", ALL, {}),
    ("GLIBCXX", 12, "3.4.9 3.4.10 3.4.11 3.4.12 3.4.13", ALL, {}),
    ("GLIBCXX", 17, "3.4.14 3.4.15 3.4.16 3.4.17 3.4.18 3.4.19", ALL, {}),
    ("GLIBCXX", 24, "3.4.20 3.4.21 3.4.22", ALL, {}),
    ("GLIBCXX", 26, "3.4.23 3.4.24", ALL, {"x86_64": 27}),
    ("GLIBCXX", 31, "3.4.25 3.4.26 3.4.27 3.4.28", ALL, {}),
    ("GLIBCXX", 34, "3.4.29", ALL, {}),
    ("GLIBCXX", 35, "3.4.30", ALL, {}),
    ("GLIBCXX", 39, "3.4.31 3.4.32", ALL, {}),
    ("GLIBCXX", 39, "3.4.33", ALL, {"loongarch64": 40}),
    ("GLIBCXX", 17, "LDBL_3.4 LDBL_3.4.7 LDBL_3.4.10", ("ppc64le", "s390x"), {}),
    ("GLIBCXX", 24, "LDBL_3.4.21", ("ppc64le", "s390x"), {}),
    ("GLIBCXX", 34, "LDBL_3.4.29", ("ppc64le", "s390x"), {}),
    ("GLIBCXX", 39, "LDBL_3.4.31", ("ppc64le", "s390x"), {}),
    ("GLIBCXX", 34, "IEEE128_3.4.29", ("ppc64le",), {}),
    ("GLIBCXX", 35, "IEEE128_3.4.30", ("ppc64le",), {}),
    ("GLIBCXX", 39, "IEEE128_3.4.31", ("ppc64le",), {}),
    ("CXXABI", 5, "1.3 1.3.1", ALL, {}),
    ("CXXABI", 12, "1.3.2 1.3.3", ALL, {}),
    ("CXXABI", 17, "1.3.4 1.3.5 1.3.6 1.3.7 TM_1", ALL, {}),
    ("CXXABI", 24, "1.3.8 1.3.9 1.3.10", ALL, {}),
    ("CXXABI", 26, "1.3.11", ALL, {"x86_64": 27}),
    ("CXXABI", 31, "1.3.12", ALL, {}),
    ("CXXABI", 34, "1.3.13", ALL, {}),
    ("CXXABI", 39, "1.3.14 1.3.15", ALL, {}),
    ("CXXABI", 17, "ARM_1.3.3", ("armv7l",), {}),
    ("CXXABI", 24, "FLOAT128", ("x86_64", "i686"), {}),
    ("CXXABI", 34, "IEEE128_1.3.13", ("ppc64le",), {}),
    ("CXXABI", 17, "LDBL_1.3", ("ppc64le", "s390x"), {}),
    # libgcc_s.so.1
    ("GCC", 5, "3.0 3.3 3.3.1 3.4 3.4.2 4.0.0 4.2.0", ALL, {}),
    (
        "GCC",
        5,
        "3.4.4",
        ("x86_64", "aarch64", "ppc64le", "s390x", "riscv64", "ppc64", "loongarch64"),
        {},
    ),
    ("GCC", 17, "3.3.4 3.5", ("armv7l",), {}),
    ("GCC", 17, "4.1.0", ("s390x",), {}),
    ("GCC", 12, "4.3.0", ALL, {}),
    ("GCC", 12, "4.4.0", ("i686", "riscv64", "ppc64", "loongarch64"), {}),
    ("GCC", 12, "4.5.0", ("i686", "aarch64", "riscv64", "ppc64", "loongarch64"), {}),
    ("GCC", 17, "4.7.0", ALL, {}),
    ("GCC", 17, "4.8.0", ("x86_64", "i686", "ppc64"), {}),
    ("GCC", 26, "7.0.0", ALL, {"x86_64": 27}),
    ("GCC", 34, "11.0", ("aarch64",), {}),
    ("GCC", 35, "12.0.0", ("x86_64", "i686"), {}),
    ("GCC", 39, "13.0.0", ("x86_64", "i686", "aarch64"), {}),
    ("GCC", 39, "14.0", ("aarch64",), {}),
    ("GCC", 39, "14.0.0", ALL, {}),
    # libatomic.so.1 (the namespace is present, possibly empty, from manylinux_2_5 on)
    ("LIBATOMIC", 17, "1.0", ALL, {"x86_64": 24, "s390x": 24}),
    ("LIBATOMIC", 24, "1.1 1.2", ALL, {}),
    # libz.so.1 (the manylinux_2_5 image's zlib is not versioned: the namespace is empty there)
    ("ZLIB", 12, "1.2.0 1.2.0.2 1.2.0.8 1.2.2 1.2.2.3 1.2.2.4", ALL, {}),
    ("ZLIB", 17, "1.2.3.3 1.2.3.4 1.2.3.5 1.2.5.1 1.2.5.2", ALL, {}),
    ("ZLIB", 26, "1.2.7.1 1.2.9", ALL, {"x86_64": 27, "aarch64": 27}),
    ("ZLIB", 37, "1.2.12", ALL, {"i686": 36}),
]
NAMESPACES: tuple[str, ...] = ("GLIBC", "CXXABI", "GLIBCXX", "GCC", "LIBATOMIC", "ZLIB")

# Libraries that may be used without bundling, and the glibc minor from which they may.
# libcrypt.so.1 (PEP 513's list) is not whitelisted at all: glibc deprecated its libcrypt and
# distributions replaced it by libxcrypt; auditwheel removed it from every policy, so the
# superset property holds without keeping it. libpanelw/libncursesw were dropped likewise.
LIBRARIES: list[tuple[str, int]] = [
    ("libatomic.so.1", 5),
    ("libgcc_s.so.1", 5),
    ("libstdc++.so.6", 5),
    ("libm.so.6", 5),
    ("libmvec.so.1", 24),
    ("libanl.so.1", 5),
    ("libdl.so.2", 5),
    ("librt.so.1", 5),
    ("libc.so.6", 5),
    ("libnsl.so.1", 5),
    ("libutil.so.1", 5),
    ("libpthread.so.0", 5),
    ("libX11.so.6", 5),
    ("libXext.so.6", 5),
    ("libXrender.so.1", 5),
    ("libICE.so.6", 5),
    ("libSM.so.6", 5),
    ("libGL.so.1", 5),
    ("libgobject-2.0.so.0", 5),
    ("libgthread-2.0.so.0", 5),
    ("libglib-2.0.so.0", 5),
    ("libresolv.so.2", 5),
    ("libexpat.so.1", 12),
    ("libz.so.1", 5),
]

# Symbols of whitelisted libraries that must not be used: library, symbols, glibc minor from
# which the entry no longer applies (None: always), whether musllinux refuses them too.
# The glibc ones are glibc 2.18 additions that the CentOS 5/6/7 images export under older
# version nodes (backports), kept up to the manylinux_2_24 image where upstream glibc has them.
# The zlib ones are internal symbols some distributions' libz builds export.
BlacklistRow = tuple[str, str, int | None, bool]
BLACKLIST: list[BlacklistRow] = [
    (
        "libc.so.6",
        "__cxa_thread_atexit_impl __issignaling __issignalingf __issignalingl"
        " pthread_getattr_default_np pthread_setattr_default_np",
        24,
        False,
    ),
    ("libm.so.6", "__issignaling __issignalingf __issignalingl", 24, False),
    ("libpthread.so.0", "pthread_getattr_default_np pthread_setattr_default_np", 24, False),
    (
        "libz.so.1",
        "_dist_code _length_code _tr_align _tr_flush_block _tr_init _tr_stored_block _tr_tally"
        " crc32_vpmsum deflate_copyright gzflags inflate_copyright inflate_fast inflate_table"
        " z_errmsg zcalloc zcfree",
        None,
        True,
    ),
    (
        "libz.so.1",
        "adler32_default crc32_acle crc32_le_vgfm_16 crc32_neon crc32_z_default sse2_slide_hash"
        " z_vstring",
        None,
        False,
    ),
    ("libz.so.1", "uncompress2", 34, True),
    (
        "libz.so.1",
        "bi_windup crc_fold_512to32 crc_fold_copy crc_fold_init deflate_medium fill_window"
        " flush_pending longest_match slide_hash_sse static_ltree x86_check_features"
        " x86_cpu_has_pclmul x86_cpu_has_sse2 x86_cpu_has_sse42",
        36,
        True,
    ),
    ("libz.so.1", "crc32_combine_gen crc32_combine_gen64 crc32_combine_op", 37, False),
]

# Symbols an extension may import from the interpreter only where some interpreters of the
# tag's Pythons do not define them, with the why. PEP 513 ("fpectl builds vs. no-fpectl
# builds"): before 3.7, PyFPE_jbuf and PyFPE_counter exist only in CPython configured
# --with-fpectl; an extension referencing them fails to import on every other CPython of
# those versions, so no manylinux or musllinux tag may carry them for a wheel whose tags admit
# such a CPython. From 3.7 on, Python/pyfpe.c defines both unconditionally ("because they may
# be referenced by extensions"). PyFPE_dummy was always defined. auditwheel 6.8.2
# (elfutils.py, elf_references_pyfpe_jbuf) refuses all three whatever the Python tags.
_FPECTL = {
    "why": "before CPython 3.7 only builds configured --with-fpectl define it (PEP 513)",
    "python_before": "3.7",
}
INTERPRETER_BLACKLIST: dict[str, dict[str, str]] = {
    "PyFPE_jbuf": _FPECTL,
    "PyFPE_counter": _FPECTL,
}

# x86-64 micro-architecture level allowed by every policy: the plain x86_64 platform tag is
# the baseline ISA; higher levels need their own architecture (as in auditwheel).
ISA_LEVELS: dict[str, str] = {"x86_64": "x86-64"}

MUSL_POLICIES: tuple[str, ...] = ("1.1", "1.2")
MUSL_ARCHES: dict[str, tuple[str, ...]] = {
    # riscv64 support landed in musl 1.1.24, so both series cover those seven; loongarch64
    # came with musl 1.2.5 (musllinux_1_2 only, as in auditwheel). musl runs on big-endian
    # ppc64 too, but no musllinux build image or policy exists for it.
    "1.1": ("x86_64", "i686", "aarch64", "ppc64le", "s390x", "armv7l", "riscv64"),
    "1.2": ("x86_64", "i686", "aarch64", "ppc64le", "s390x", "armv7l", "riscv64", "loongarch64"),
}
# Public symbols first exported by a musl release after 1.1.24, per policy and architecture
# ("*": every architecture of the policy), grouped by the release that added them. A binary
# importing one of them does not load on an older musl, whatever tag it claims.
MUSL_TIME64 = (
    # 1.2.0 made time_t 64-bit on 32-bit archs: headers redirect each function whose ABI
    # involves time_t to a new name, and the old names stay as time32 compatibility shims.
    "__adjtime64 __adjtimex_time64 __aio_suspend_time64 __clock_adjtime64 __clock_getres_time64"
    " __clock_gettime64 __clock_nanosleep_time64 __clock_settime64 __cnd_timedwait_time64"
    " __ctime64 __ctime64_r __difftime64 __dlsym_time64 __fstat_time64 __fstatat_time64"
    " __ftime64 __futimens_time64 __futimes_time64 __futimesat_time64 __getitimer_time64"
    " __getrusage_time64 __gettimeofday_time64 __gmtime64 __gmtime64_r __localtime64"
    " __localtime64_r __lstat_time64 __lutimes_time64 __mktime64 __mq_timedreceive_time64"
    " __mq_timedsend_time64 __mtx_timedlock_time64 __nanosleep_time64 __ppoll_time64"
    " __pselect_time64 __pthread_cond_timedwait_time64 __pthread_mutex_timedlock_time64"
    " __pthread_rwlock_timedrdlock_time64 __pthread_rwlock_timedwrlock_time64"
    " __pthread_timedjoin_np_time64 __recvmmsg_time64 __sched_rr_get_interval_time64"
    " __select_time64 __sem_timedwait_time64 __semtimedop_time64 __setitimer_time64"
    " __settimeofday_time64 __sigtimedwait_time64 __stat_time64 __stime64 __thrd_sleep_time64"
    " __time64 __timegm_time64 __timer_gettime64 __timer_settime64 __timerfd_gettime64"
    " __timerfd_settime64 __timespec_get_time64 __utime64 __utimensat_time64 __utimes_time64"
    " __wait3_time64 __wait4_time64"
)
MUSL_INTRODUCED: dict[str, dict[str, dict[str, str]]] = {
    "1.1": {},
    "1.2": {
        "*": {
            # 1.2.1 added no function (PTHREAD_NULL is a macro); 1.2.4 none either.
            "1.2.2": "_Fork reallocarray gettid tcgetwinsize tcsetwinsize",
            "1.2.3": "qsort_r pthread_getname_np",
            "1.2.5": "statx preadv2 pwritev2",
        },
        "i686": {"1.2.0": MUSL_TIME64},
        "armv7l": {"1.2.0": MUSL_TIME64},
    },
}
MUSL_LOADERS: dict[str, str] = {
    "x86_64": "ld-musl-x86_64.so.1",
    "i686": "ld-musl-i386.so.1",
    "aarch64": "ld-musl-aarch64.so.1",
    "ppc64le": "ld-musl-powerpc64le.so.1",
    "s390x": "ld-musl-s390x.so.1",
    "armv7l": "ld-musl-armhf.so.1",
    "riscv64": "ld-musl-riscv64.so.1",
    "loongarch64": "ld-musl-loongarch64.so.1",
}
# Alpine (the musllinux baseline images) gives musl the soname libc.musl-<arch>.so.1, which is
# what binaries built there record in DT_NEEDED.
MUSL_ALPINE_SONAMES: dict[str, str] = {
    "x86_64": "libc.musl-x86_64.so.1",
    "i686": "libc.musl-x86.so.1",
    "aarch64": "libc.musl-aarch64.so.1",
    "ppc64le": "libc.musl-ppc64le.so.1",
    "s390x": "libc.musl-s390x.so.1",
    "armv7l": "libc.musl-armv7.so.1",
    "riscv64": "libc.musl-riscv64.so.1",
    "loongarch64": "libc.musl-loongarch64.so.1",
}


# The libc release whose dynamic loader first applies DT_RELR (packed relative relocations,
# ``ld -z pack-relative-relocs``): glibc 2.36 (which also defines the GLIBC_ABI_DT_RELR node
# that GNU ld adds to such binaries), musl 1.2.4 (its WHATSNEW: "dynamic linker: support for
# DT_RELR"). An older loader ignores the table and leaves those pointers unrelocated: the
# process crashes (pillow 10.4.0's musllinux_1_2 wheel on musl 1.1.24). None: not allowed.
GLIBC_DT_RELR = "2.36"
MUSL_DT_RELR: dict[str, str] = {"1.2": "1.2.4"}

SOURCE = (
    "generated by tools/make_policies.py (python tools/make_policies.py); the facts and "
    "their sources are in that script's docstring and comments"
)


def version_key(version: str) -> tuple[int, str, tuple[int, ...]]:
    """Order plain dotted versions numerically first, then prefixed or named ones."""
    prefix, _, number = version.rpartition("_")
    if re.fullmatch(r"\d+(\.\d+)*", number):
        return (1 if prefix else 0, prefix, tuple(int(p) for p in number.split(".")))
    return (1, version, ())


def expand_nodes(spec: str) -> list[str]:
    """Expand ``"2.0 2.4-2.6"`` into ``["2.0", "2.4", "2.5", "2.6"]``."""
    nodes: list[str] = []
    for item in spec.split():
        if "-" in item:
            low, high = item.split("-")
            major = low.split(".")[0]
            first, last = int(low.split(".")[1]), int(high.split(".")[1])
            nodes.extend(f"{major}.{minor}" for minor in range(first, last + 1))
        else:
            nodes.append(item)
    return nodes


def glibc_versions(arch: str, minor: int) -> list[str]:
    """The GLIBC nodes of ``arch`` that a manylinux_2_<minor> binary may require."""
    allowed: list[str] = []
    for node in expand_nodes(GLIBC_NODES[arch]):
        since = GLIBC_NODE_MINOR_OVERRIDES.get((arch, node), int(node.split(".")[1]))
        if since <= minor:
            allowed.append(node)
    for node, default in GLIBC_SPECIAL_NODES.items():
        if GLIBC_NODE_MINOR_OVERRIDES.get((arch, node), default) <= minor:
            allowed.append(node)
    return allowed


def toolchain_versions(arch: str, minor: int) -> dict[str, list[str]]:
    """libstdc++/libgcc/libatomic/zlib versions allowed on ``arch`` by manylinux_2_<minor>."""
    found: dict[str, list[str]] = {ns: [] for ns in NAMESPACES if ns != "GLIBC"}
    for namespace, since, versions, arches, deviations in TOOLCHAIN:
        if arch in arches and deviations.get(arch, since) <= minor:
            found[namespace].extend(versions.split())
    return {ns: sorted(vs, key=version_key) for ns, vs in found.items()}


def blacklist(minor: int | None) -> dict[str, list[str]]:
    """Forbidden symbols for manylinux_2_<minor>, or for musllinux when ``minor`` is None."""
    result: dict[str, list[str]] = {}
    for library, symbols, until, musl in BLACKLIST:
        applies = musl if minor is None else (until is None or minor < until)
        if applies:
            result.setdefault(library, []).extend(symbols.split())
    return {library: sorted(symbols) for library, symbols in result.items()}


def manylinux_policy(minor: int) -> dict[str, Any]:
    arches = [arch for arch in ARCHES if ARCH_FIRST_MINOR[arch] <= minor]
    symbol_versions: dict[str, dict[str, list[str]]] = {}
    for arch in arches:
        per_ns = {"GLIBC": glibc_versions(arch, minor), **toolchain_versions(arch, minor)}
        symbol_versions[arch] = {ns: per_ns[ns] for ns in NAMESPACES}
    return {
        "name": f"manylinux_2_{minor}",
        "aliases": [ALIASES[minor]] if minor in ALIASES else [],
        "libc_version": f"2.{minor}",
        "architectures": arches,
        "isa_levels": dict(ISA_LEVELS),
        "preferred": minor in PREFERRED_MINORS,
        "libraries": [soname for soname, since in LIBRARIES if since <= minor]
        + list(GLIBC_LOADERS),
        "symbol_versions": symbol_versions,
        "blacklist": blacklist(minor),
        "interpreter_blacklist": {k: dict(v) for k, v in INTERPRETER_BLACKLIST.items()},
        # glibc marks new symbols with version nodes (symbol_versions) instead.
        "introduced_symbols": {},
        "dt_relr": GLIBC_DT_RELR if minor >= int(GLIBC_DT_RELR.split(".")[1]) else None,
    }


def musllinux_policy(version: str) -> dict[str, Any]:
    arches = list(MUSL_ARCHES[version])
    libraries = ["libc.so"]
    libraries += [MUSL_LOADERS[arch] for arch in arches]
    libraries += [MUSL_ALPINE_SONAMES[arch] for arch in arches]
    libraries.append("libz.so.1")  # whitelisted for musllinux too (auditwheel 6.8.2)
    return {
        "name": "musllinux_" + version.replace(".", "_"),
        "aliases": [],
        "libc_version": version,
        "architectures": arches,
        "isa_levels": dict(ISA_LEVELS),
        "preferred": True,
        "libraries": libraries,
        "symbol_versions": {},
        "blacklist": blacklist(None),
        "interpreter_blacklist": {k: dict(v) for k, v in INTERPRETER_BLACKLIST.items()},
        "introduced_symbols": {
            arch: {release: sorted(names.split()) for release, names in releases.items()}
            for arch, releases in MUSL_INTRODUCED[version].items()
        },
        "dt_relr": MUSL_DT_RELR.get(version),
    }


def write(path: Path, document: dict[str, Any]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        json.dump(document, handle, indent=1, sort_keys=False)
        handle.write("\n")


def main() -> None:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    manylinux = {
        "_source": SOURCE,
        "family": "manylinux",
        "libc": "glibc",
        "installable": {
            "_source": INSTALLABLE_SOURCE,
            "architectures": list(INSTALLABLE_ARCHES),
            "oldest": dict(INSTALLABLE_OLDEST),
        },
        "policies": [manylinux_policy(m) for m in range(FIRST_MINOR, LAST_MINOR + 1)],
    }
    musllinux = {
        "_source": SOURCE,
        "family": "musllinux",
        "libc": "musl",
        "installable": {
            "_source": INSTALLABLE_SOURCE,
            "architectures": ["*"],
            "oldest": {"*": "1.0"},
        },
        "policies": [musllinux_policy(v) for v in MUSL_POLICIES],
    }
    write(OUT_DIR / "manylinux.json", manylinux)
    write(OUT_DIR / "musllinux.json", musllinux)


if __name__ == "__main__":
    main()
