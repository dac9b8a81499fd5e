"""Integer noise for released counts: the discrete Laplace (two-sided geometric) mechanism."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from dealvault.errors import Invalid

MECHANISM = "discrete_laplace"


def discrete_laplace_noise(
    *, epsilon: float, size: int, rng: np.random.Generator
) -> npt.NDArray[np.int64]:
    """Two-sided geometric noise: P(z) ∝ exp(-epsilon·|z|), sensitivity 1, integers only.

    The difference of two geometric variables with success probability 1 - exp(-epsilon);
    variance 2·e^-ε / (1 - e^-ε)². Integer noise avoids the floating-point Laplace weakness.
    """
    if not (math.isfinite(epsilon) and epsilon > 0):
        raise Invalid("epsilon must be a positive number")
    p = -math.expm1(-epsilon)
    first: npt.NDArray[np.int64] = rng.geometric(p, size)
    second: npt.NDArray[np.int64] = rng.geometric(p, size)
    return first - second
