"""Build of the package's one native kernel (the rest is in pyproject.toml): the free-text
model's tagger, classify/_crf.c. It is optional: without a C compiler the install goes on and
classify/ner.py uses its numpy path, which gives the same labels, only slower."""

import platform

from setuptools import Extension, setup

#: the kernel counts bits of its table's bitmap: the POPCNT instruction (every x86-64 CPU since
#: 2008) instead of a library call; other machines have their own
_X86: bool = platform.machine().lower() in ("x86_64", "amd64")

setup(
    ext_modules=[
        Extension(
            "dealvault.classify._crf",
            sources=["src/dealvault/classify/_crf.c"],
            extra_compile_args=["-O3", *(["-mpopcnt"] if _X86 else [])],
            optional=True,
        )
    ]
)
