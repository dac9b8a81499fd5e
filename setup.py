"""Build of the package's one native kernel (the rest is in pyproject.toml): the free-text
model's tagger, classify/_crf.c. It is optional: without a C compiler the install goes on and
classify/ner.py uses its numpy path, which gives the same labels, only slower."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "dealvault.classify._crf",
            sources=["src/dealvault/classify/_crf.c"],
            extra_compile_args=["-O3"],
            optional=True,
        )
    ]
)
