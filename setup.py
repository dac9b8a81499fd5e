"""Build of the package's native kernels (the rest is in pyproject.toml):

- classify/_crf.c, the free-text model's tagger;
- _kernels/*.c (module dealvault._native), the batch kernels of the hot paths (AES-256-GCM
  envelopes, blind indexes, audit hashing, the audit verifier's checks, payload decoding)
  against OpenSSL's libcrypto, zlib and SQLite (Debian: libssl-dev, zlib1g-dev,
  libsqlite3-dev).

Both are optional: without a C compiler or the headers the install goes on and the Python
paths (classify/ner.py's numpy path, dealvault/native.py) give the same bytes, only slower.
The test suite fails under CI when a kernel is missing, so a broken build cannot go unseen."""

import glob
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
        ),
        Extension(
            "dealvault._native",
            sources=sorted(glob.glob("src/dealvault/_kernels/*.c")),
            include_dirs=["src/dealvault/_kernels"],
            libraries=["crypto", "z", "sqlite3"],
            extra_compile_args=["-O2", "-fvisibility=hidden"],
            optional=True,
        ),
    ]
)
