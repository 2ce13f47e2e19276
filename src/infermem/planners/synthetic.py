"""Seeded synthetic planning problems shaped like a CNN's lifetimes.

One buffer per operator: mostly read by the next operator only (a chain), a
fraction kept alive for a few more steps (residual and concat branches), a
few kept for long (an early feature map reused late, as in U-Nets).  Sizes
follow a CNN's profile: the spatial size shrinks by stages while channels
grow, with noise.  Optional overlaps mimic diagonal memory optimisation: an
output may reach into the input it was computed from.  Used by the tests and
the planner benchmark; never by the planners themselves.
"""

from __future__ import annotations

import random

from .problem import Buffer, Overlap, Problem, align_up


def cnn_like(
    n: int,
    seed: int = 0,
    alignment: int = 16,
    overlaps: bool = False,
    skip: float = 0.2,
    long: float = 0.02,
) -> Problem:
    """A problem with `n` buffers over `n` steps (see module docstring)."""
    rng = random.Random(seed)
    stages = max(1, min(5, n // 8))
    bufs, ovs = [], []
    for t in range(n):
        stage = t * stages // max(n, 1)
        hw = (64 >> stage) ** 2
        ch = 8 << stage
        size = align_up(max(1, int(hw * ch * rng.uniform(0.5, 1.5))), alignment)
        last = min(n - 1, t + 1)
        r = rng.random()
        if r < long:
            last = min(n - 1, t + rng.randint(10, 60))
        elif r < long + skip:
            last = min(n - 1, t + rng.randint(2, 6))
        bufs.append(Buffer(f"t{t}", size, t, last, index=t))
        if overlaps and t > 0 and rng.random() < 0.7:
            inp = bufs[t - 1]
            reach = rng.choice([inp.size, size, inp.size // 2, inp.size + size])
            ovs.append(Overlap(f"t{t}", inp.name, reach))
    return Problem(tuple(bufs), alignment, tuple(ovs))
