"""Build real test fixtures (ELF objects, wheels) at test time, with a shared cache.

Why a library rather than checked-in binaries: the fixtures must be real
outputs of real toolchains (gcc, zig cross compilers) with specific dynamic
linking properties, and binaries in the repository would hide how they were
made and rot as toolchains change.
"""

from .build import CompileError, cache_root, compile_c, compiler_version
from .linux import LinuxFixture, build_linux_fixture
from .wheels import expand_tag, make_wheel, normalize_name, unpack_wheel, wheel_members

__all__ = [
    "CompileError",
    "LinuxFixture",
    "build_linux_fixture",
    "cache_root",
    "compile_c",
    "compiler_version",
    "expand_tag",
    "make_wheel",
    "normalize_name",
    "unpack_wheel",
    "wheel_members",
]
