"""LSTM, GRU and RNN, one time step per chunk (ONNX equations and layouts).

Chunk order: for each direction d (forward: t = 0..T-1, then reverse:
t = T-1..0), one chunk per time step: read X[t] (layout 1: X[:, t]) and the
whole weights, recurrence, biases, initial states and peepholes, then write
Y[t, d] (layout 1: Y[:, t, d]); the last step of a direction also writes
Y_h[d] and Y_c[d].  The hidden and cell state live in scratch between steps
(batch x hidden each).  sequence_lens must be a constant (a weight) equal to
the sequence length for every batch entry; padded batches are refused.
"""

from __future__ import annotations

import numpy as np

from .blocked import Blocked
from .registry import register


def _act(name: str, alpha: float | None, beta: float | None):
    n = name.lower()
    table = {
        "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
        "tanh": np.tanh,
        "relu": lambda x: np.maximum(x, 0),
        "affine": lambda x: alpha * x + beta,
        "leakyrelu": lambda x: np.where(x >= 0, x, alpha * x),
        "thresholdedrelu": lambda x: np.where(x > alpha, x, 0),
        "scaledtanh": lambda x: alpha * np.tanh(beta * x),
        "hardsigmoid": lambda x: np.clip(alpha * x + beta, 0, 1),
        "elu": lambda x: np.where(x >= 0, x, alpha * np.expm1(x)),
        "softsign": lambda x: x / (1 + np.abs(x)),
        "softplus": lambda x: np.logaddexp(x, 0),
    }
    if n not in table:
        raise ValueError(name)
    return table[n]


DEFAULT_ALPHA = {"leakyrelu": 0.01, "thresholdedrelu": 1.0, "elu": 1.0, "affine": 1.0,
                 "scaledtanh": 1.0, "hardsigmoid": 0.2}
DEFAULT_BETA = {"affine": 0.0, "scaledtanh": 1.0, "hardsigmoid": 0.5}


class Recurrent(Blocked):
    order = "per direction, per time step: read X[t] and the weights, write Y[t, d]"
    GATES, FUNCS = 1, ("Tanh",)
    X, W, R, B, SEQ, H0 = 0, 1, 2, 3, 4, 5

    def prepare(self) -> None:
        xs, ws = self.in_shapes[self.X], self.in_shapes[self.W]
        self.layout = int(self.attrs.get("layout", 0))
        self.dirs = {"forward": [0], "reverse": [1], "bidirectional": [0, 1]}.get(
            str(self.attrs.get("direction", "forward")))
        if self.dirs is None or len(xs) != 3:
            raise self.fail(f"direction {self.attrs.get('direction')!r} or input {xs} "
                            "is not supported")
        self.t, self.b = (xs[0], xs[1]) if self.layout == 0 else (xs[1], xs[0])
        self.h = ws[1] // self.GATES
        self.clip = self.attrs.get("clip")
        lens = self.const_ints(self.SEQ, "sequence_lens")
        if lens is not None and any(v != self.t for v in lens):
            raise self.fail("sequence_lens shorter than the sequence are not supported")
        self.acts = self.activations()
        self.state: dict = {}
        self.block_scratch(self.b * self.h * (self.GATES + 4), 3)

    def activations(self):
        names = self.attrs.get("activations") or list(self.FUNCS) * len(self.dirs)
        alphas = list(self.attrs.get("activation_alpha") or [])
        betas = list(self.attrs.get("activation_beta") or [])
        out, ai, bi = [], 0, 0
        for n in names:
            key = str(n).lower()
            a = b = None
            if key in DEFAULT_ALPHA:
                a = alphas[ai] if ai < len(alphas) else DEFAULT_ALPHA[key]
                ai += 1
            if key in DEFAULT_BETA:
                b = betas[bi] if bi < len(betas) else DEFAULT_BETA[key]
                bi += 1
            try:
                out.append(_act(str(n), a, b))
            except ValueError:
                raise self.fail(f"activation {n!r} is not supported") from None
        k = len(self.FUNCS)
        return [out[i * k:(i + 1) * k] for i in range(len(self.dirs))]

    def chunks(self):
        every = slice(None)
        n_in = len(self.op.inputs)
        whole = [() if self.has_input(k) and k != self.SEQ else None for k in range(n_in)]
        n_out = len(self.op.outputs)
        for di, d in enumerate(self.dirs):
            steps = range(self.t) if d == 0 else range(self.t - 1, -1, -1)
            for j, t in enumerate(steps):
                xr = (t,) if self.layout == 0 else (every, t)
                yw = (t, di) if self.layout == 0 else (every, t, di)
                hw = (di,) if self.layout == 0 else (every, di)
                last = j == self.t - 1
                writes = [yw] + [hw if last else None] * (n_out - 1)
                writes = tuple(w if self.op.outputs[k] else None for k, w in enumerate(writes))
                yield writes, (xr, *whole[1:]), (di, j == 0)

    def compute(self, ctx, x, w, r, b=None, seq=None, h0=None, *extra):
        di, first = ctx
        if first:
            self.state = self.initial(di, h0, *extra)
        gx = x @ w[di].T
        if b is not None:
            gx = gx + b[di][: self.GATES * self.h]
        rb = b[di][self.GATES * self.h:] if b is not None else 0
        ys = self.step(di, gx, r[di], rb, extra)
        return ys

    def initial(self, di: int, h0, *extra) -> dict:
        h = np.zeros((self.b, self.h), self.in_dtypes[self.X]) if h0 is None else np.array(
            h0[di] if self.layout == 0 else h0[:, di])
        return {"h": h}

    def gate(self, v: np.ndarray) -> np.ndarray:
        return v if self.clip is None else np.clip(v, -self.clip, self.clip)

    def step(self, di, gx, r, rb, extra):
        f = self.acts[di][0]
        h = f(self.gate(gx + self.state["h"] @ r.T + rb))
        self.state["h"] = h
        return h, h


@register("RNN")
class RNN(Recurrent):
    pass


@register("GRU")
class GRU(Recurrent):
    GATES, FUNCS = 3, ("Sigmoid", "Tanh")

    def step(self, di, gx, r, rb, extra):
        f, g = self.acts[di]
        H, hp = self.h, self.state["h"]
        rb = np.zeros(3 * H, gx.dtype) if np.isscalar(rb) else rb
        zr = gx[:, :2 * H] + hp @ r[:2 * H].T + rb[:2 * H]
        z, rr = f(self.gate(zr[:, :H])), f(self.gate(zr[:, H:]))
        if self.attrs.get("linear_before_reset", 0):
            hh = g(self.gate(gx[:, 2 * H:] + rr * (hp @ r[2 * H:].T + rb[2 * H:])))
        else:
            hh = g(self.gate(gx[:, 2 * H:] + (rr * hp) @ r[2 * H:].T + rb[2 * H:]))
        h = (1 - z) * hh + z * hp
        self.state["h"] = h
        return h, h


@register("LSTM")
class LSTM(Recurrent):
    GATES, FUNCS = 4, ("Sigmoid", "Tanh", "Tanh")
    C0, P = 6, 7

    def initial(self, di, h0, c0=None, p=None):
        s = super().initial(di, h0)
        s["c"] = np.zeros_like(s["h"]) if c0 is None else np.array(
            c0[di] if self.layout == 0 else c0[:, di])
        s["p"] = None if p is None else p[di]
        return s

    def step(self, di, gx, r, rb, extra):
        f, g, hf = self.acts[di]
        H, hp, cp, p = self.h, self.state["h"], self.state["c"], self.state["p"]
        v = gx + hp @ r.T + rb
        pi, po, pf = (p[:H], p[H:2 * H], p[2 * H:]) if p is not None else (0, 0, 0)
        i = f(self.gate(v[:, :H] + pi * cp))
        if self.attrs.get("input_forget", 0):
            fg = 1 - i
        else:
            fg = f(self.gate(v[:, 2 * H:3 * H] + pf * cp))
        c = fg * cp + i * g(self.gate(v[:, 3 * H:]))
        o = f(self.gate(v[:, H:2 * H] + po * c))
        h = o * hf(c)
        self.state.update(h=h, c=c)
        return h, h, c
