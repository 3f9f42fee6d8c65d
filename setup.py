"""Builds the one native module, ledger._core, from _core.pyx and our C sources in ledger/csrc/."""
from glob import glob

from Cython.Build import cythonize
from setuptools import Extension, setup

# One C file a concern; a file joins the build when it compiles cleanly on its own.
C_SOURCES = ["blake3.c", "blake3_many.c", "merkle.c", "sha512.c", "fe25519.c", "ge25519.c", "sc25519.c", "msm.c", "ed25519_verify.c", "ed25519_batch.c", "block_decoder.c", "block_rules.c", "key_hash.c", "state_tree.c"]
c_sources = [f"ledger/csrc/{name}" for name in C_SOURCES]

core = Extension(
    "ledger._core",
    sources=["ledger/_core.pyx", *c_sources],
    include_dirs=["ledger/csrc"],
    depends=sorted(glob("ledger/csrc/*.h")) + sorted(glob("ledger/*.pxi")),
    extra_compile_args=["-O3", "-std=gnu11", "-fno-strict-aliasing", "-Wall", "-Wextra", "-Wno-unused-function", "-Wno-unused-parameter"],
    extra_link_args=["-pthread"],
)

setup(ext_modules=cythonize([core], language_level="3", compiler_directives={"boundscheck": False, "wraparound": False}))
