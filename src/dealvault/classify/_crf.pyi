"""Native kernel of the free-text name and address model (see classify/_crf.c)."""

from typing_extensions import Buffer

def tag(
    codes: Buffer,
    starts: Buffer,
    sizes: Buffer,
    weights: Buffer,
    transitions: Buffer,
    templates: Buffer,
    bits: int,
    out: Buffer,
    /,
) -> None: ...
