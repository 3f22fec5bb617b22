"""Wheels whose libraries come from another wheel, built from ``fixtures/providers``.

``dependency_pair``: ``mwdep-provider`` ships ``mwdep/lib/libmwdep.so.1``; ``mwmain`` declares
it in Requires-Dist and its extension needs that library (RUNPATH ``$ORIGIN/../mwdep/lib``)
and ``libmwother.so.1``, which no dependency ships (found with ``--lib-path``). Both import
on this host.

``torch_layout``: the layout of torch and the nvidia-*-cu12 wheels, with small stand-ins:
``torch/lib/libtorch_cuda.so`` needs ``libcudnn.so.9`` and ``libcublas.so.12`` through
RUNPATH ``$ORIGIN/../../nvidia/<x>/lib``, and the nvidia wheels ship them there.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from .build import compile_c
from .wheels import make_wheel

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "providers"
ZIG_GLIBC_217 = "x86_64-linux-gnu.2.17"
TAG = "cp311-cp311-manylinux_2_17_x86_64"
LIB_TAG = "py3-none-manylinux_2_17_x86_64"


def _lib(source: str, soname: str, **kw: object) -> Path:
    return compile_c(
        [FIXTURES / source],
        soname,
        compiler="zig",
        target=ZIG_GLIBC_217,
        include_python=False,
        soname=soname,
        **kw,  # type: ignore[arg-type]
    )


@dataclass(frozen=True)
class DependencyPair:
    main: Path  # mwmain's wheel
    dependency: Path  # mwdep-provider's wheel
    other_dir: Path  # where libmwother.so.1 lives on this machine (--lib-path)
    links: Path  # the directory holding the dependency's wheel (--find-links)


def dependency_pair(
    dest: Path, requires: str = "mwdep-provider>=1.0", *, runpath: bool = True
) -> DependencyPair:
    """``runpath``: the extension reaches the dependency's library through its RUNPATH
    (else only the dependency's RECORD says where it is, and a repair adds the entry)."""
    dep_lib = _lib("dep_lib.c", "libmwdep.so.1")
    other = _lib("other_lib.c", "libmwother.so.1")
    ext = compile_c(
        [FIXTURES / "main_ext.c"],
        "_ext.so",
        compiler="zig",
        target=ZIG_GLIBC_217,
        libs=[":libmwdep.so.1", ":libmwother.so.1"],
        lib_dirs=[dep_lib.parent, other.parent],
        rpath=["$ORIGIN/../mwdep/lib"] if runpath else [],
    )
    links = dest / "links"
    dependency = make_wheel(
        links,
        "mwdep-provider",
        "1.0",
        LIB_TAG,
        {"mwdep/__init__.py": b"", "mwdep/lib/libmwdep.so.1": dep_lib},
    )
    other_dir = dest / "host-lib"
    other_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(other, other_dir / "libmwother.so.1")
    main = make_wheel(
        dest / "dist",
        "mwmain",
        "1.0",
        TAG,
        {
            "mwmain/__init__.py": b"from ._ext import value\n",
            "mwmain/_ext.cpython-311-x86_64-linux-gnu.so": ext,
        },
        extra_metadata=f"Requires-Dist: {requires}\n" if requires else "",
    )
    return DependencyPair(main, dependency, other_dir, links)


CUDA = {"cudnn": "libcudnn.so.9", "cublas": "libcublas.so.12", "cufft": "libcufft.so.11"}
NVIDIA_VERSIONS = {"cudnn": "9.1.0.70", "cublas": "12.4.5.8", "cufft": "11.2.1.3"}


@dataclass(frozen=True)
class TorchLayout:
    torch: Path
    links: Path  # the nvidia-*-cu12 stand-in wheels


def torch_layout(dest: Path, requires: str, *, runpath: bool = True) -> TorchLayout:
    """``requires``: the Requires-Dist lines of the torch stand-in (torch declares its
    nvidia wheels with ``platform_system == "Linux" and platform_machine == "x86_64"``).
    ``runpath=False``: onnxruntime-gpu's way, no RUNPATH into the nvidia wheels (it preloads
    them), the library as ``onnxruntime/capi/libonnxruntime_providers_cuda.so``."""
    libs = {
        name: _lib("cuda_lib.c", soname, extra_args=[f"-DMW_FN=mw_{name}"])
        for name, soname in CUDA.items()
    }
    torch_lib = compile_c(
        [FIXTURES / "torch_lib.c"],
        "libtorch_cuda.so",
        compiler="zig",
        target=ZIG_GLIBC_217,
        include_python=False,
        soname="libtorch_cuda.so",
        libs=[f":{soname}" for soname in CUDA.values()],
        lib_dirs=sorted({p.parent for p in libs.values()}),
        rpath=[f"$ORIGIN/../../nvidia/{name}/lib" for name in CUDA] + ["$ORIGIN"]
        if runpath
        else [],
    )
    links = dest / "links"
    for name, lib in libs.items():
        make_wheel(
            links,
            f"nvidia-{name}-cu12",
            NVIDIA_VERSIONS[name],
            "py3-none-manylinux2014_x86_64",
            {
                "nvidia/__init__.py": b"",
                f"nvidia/{name}/__init__.py": b"",
                f"nvidia/{name}/include/{name}.h": b"/* header */\n",
                f"nvidia/{name}/lib/{CUDA[name]}": lib,
            },
        )
    torch = make_wheel(
        dest / "dist",
        "mwtorch",
        "2.5.0",
        TAG,
        {"torch/__init__.py": b"", "torch/lib/libtorch_cuda.so": torch_lib}
        if runpath
        else {
            "onnxruntime/__init__.py": b"",
            "onnxruntime/capi/libonnxruntime_providers_cuda.so": torch_lib,
        },
        extra_metadata=requires,
    )
    return TorchLayout(torch, links)
