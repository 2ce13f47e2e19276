"""NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss.

Chunk order: one chunk: read every input whole, then write the loss (and
SoftmaxCrossEntropyLoss's log-probabilities).  A mean or sum reduction needs
every element before its one output value exists.
"""

from __future__ import annotations

import numpy as np

from .blocked import Blocked
from .registry import register


def nll(logp: np.ndarray, target: np.ndarray, weight: np.ndarray | None,
        ignore: int | None, reduction: str) -> np.ndarray:
    """loss[n, d...] = -logp[n, target[n, d...], d...] * weight[target], ignored
    targets contributing 0 (and no weight to a mean)."""
    c = logp.shape[1]
    t = target.astype(np.int64)
    keep = np.ones(t.shape, bool) if ignore is None else t != ignore
    safe = np.where(keep, t, 0)
    picked = np.take_along_axis(logp, safe[:, None], axis=1)[:, 0]
    wt = (np.ones(c, logp.dtype) if weight is None else weight)[safe] * keep
    loss = -picked * wt
    if reduction == "none":
        return loss
    if reduction == "sum":
        return np.sum(loss)
    total = np.sum(wt)
    return np.sum(loss) / total if total else np.sum(loss) * 0


@register("NegativeLogLikelihoodLoss", "SoftmaxCrossEntropyLoss")
class Loss(Blocked):
    order = "one chunk: read every input whole, write the loss (and log-probabilities)"

    def prepare(self) -> None:
        self.reduction = str(self.attrs.get("reduction", "mean"))
        if self.reduction not in ("none", "sum", "mean"):
            raise self.fail(f"reduction {self.reduction!r} is not supported")
        ig = self.attrs.get("ignore_index")
        self.ignore = None if ig is None else int(ig)
        self.block_scratch(3 * int(np.prod(self.in_shapes[0])), 2)

    def chunks(self):
        yield tuple(() if o else None for o in self.op.outputs), self.reads_all(), None

    def compute(self, ctx, x, target, weight=None):
        if self.op.type == "NegativeLogLikelihoodLoss":
            return (nll(x, target, weight, self.ignore, self.reduction),)
        z = x - np.max(x, axis=1, keepdims=True)
        logp = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
        return nll(logp, target, weight, self.ignore, self.reduction), logp
