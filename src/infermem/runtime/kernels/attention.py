"""Attention (opset 23+): scaled dot-product attention with masks, causal and
sliding windows, a KV cache, grouped heads and softcap.

Chunk order: per batch index b: read Q[b], K[b], V[b], the mask rows of b
(the whole mask when it has no batch axis), past_key[b], past_value[b] and
the whole nonpad_kv_seqlen, then write Y[b], present_key[b],
present_value[b] and the QK output [b].  3-D inputs (B, S, heads*size) are
split into heads inside the chunk.
"""

from __future__ import annotations

import numpy as np

from .blocked import Blocked
from .registry import register

PRECISION = {1: np.float32, 10: np.float16, 11: np.float64}
NEG = -np.inf


@register("Attention")
class Attention(Blocked):
    order = "per batch index: read Q[b], K[b], V[b], its mask and cache rows, write Y[b], ..."
    MASK, PAST_K, PAST_V, NONPAD = 3, 4, 5, 6

    def prepare(self) -> None:
        qs = self.in_shapes[0]
        self.rank3 = len(qs) == 3
        if len(qs) not in (3, 4):
            raise self.fail(f"Q must be 3-D or 4-D, got {qs}")
        self.hq = int(self.attrs.get("q_num_heads", 0)) if self.rank3 else qs[1]
        hk = self.in_shapes[1][1] if not self.rank3 else int(self.attrs.get("kv_num_heads", 0))
        if self.hq < 1 or hk < 1 or self.hq % hk:
            raise self.fail(f"{self.hq} query heads do not group over {hk} key/value heads")
        self.hk = hk
        self.mode = int(self.attrs.get("qk_matmul_output_mode", 0))
        m = self.in_shapes[self.MASK] if self.has_input(self.MASK) else None
        self.mask_by_batch = m is not None and len(m) == 4 and m[0] == qs[0] and qs[0] > 1
        total = sum(int(np.prod(s[1:])) for s in (*self.in_shapes, *self.out_shapes) if s)
        self.block_scratch(total, 4)

    def chunks(self):
        n_in, n_out = len(self.op.inputs), len(self.op.outputs)
        for b in range(self.in_shapes[0][0]):
            reads = []
            for k in range(n_in):
                if not self.has_input(k):
                    reads.append(None)
                elif k == self.NONPAD or (k == self.MASK and not self.mask_by_batch):
                    reads.append(())
                else:
                    reads.append((b,))
            writes = tuple((b,) if self.op.outputs[k] else None for k in range(n_out))
            yield writes, tuple(reads), b

    def heads(self, x: np.ndarray, n: int) -> np.ndarray:
        """(S, n*size) -> (n, S, size) for 3-D inputs; 4-D inputs are already so."""
        return x.reshape(x.shape[0], n, -1).transpose(1, 0, 2) if self.rank3 else x

    def bias(self, b: int, s: int, t: int, mask, past: int, nonpad, dt) -> np.ndarray:
        """The additive bias (0 or -inf, or the float mask) of batch b, (.., S, T)."""
        bias = np.zeros((s, t), dt)
        if mask is not None:
            if mask.ndim == 4:
                mask = mask[0]
            pad = t - mask.shape[-1]
            if pad > 0:
                widths = [(0, 0)] * (mask.ndim - 1) + [(0, pad)]
                mask = np.pad(mask, widths, constant_values=False if mask.dtype == bool else NEG)
            bias = bias + (np.where(mask, dt.type(0), dt.type(NEG)) if mask.dtype == bool
                           else mask.astype(dt))
        offset = past if nonpad is None else int(nonpad.reshape(-1)[b]) - s
        diff = np.arange(s)[:, None] + offset - np.arange(t)[None, :]
        allowed = np.ones((s, t), bool)
        if self.attrs.get("is_causal", 0):
            allowed &= diff >= 0
        left = int(self.attrs.get("left_window_size", -1))
        right = int(self.attrs.get("right_window_size", -1))
        if left >= 0:
            allowed &= diff <= left
        if right >= 0:
            allowed &= -diff <= right
        if nonpad is not None:
            allowed &= np.arange(t)[None, :] < int(nonpad.reshape(-1)[b])
        return bias + np.where(allowed, dt.type(0), dt.type(NEG))

    def compute(self, b, q, k, v, mask=None, pk=None, pv=None, nonpad=None):
        dt = q.dtype
        q, k, v = self.heads(q, self.hq), self.heads(k, self.hk), self.heads(v, self.hk)
        past = 0
        if pk is not None:
            past = pk.shape[1]
            k, v = np.concatenate([pk, k], axis=1), np.concatenate([pv, v], axis=1)
        present_k, present_v = k, v
        s, t = q.shape[1], k.shape[1]
        bias = self.bias(b, s, t, mask, past, nonpad, dt)
        rep = self.hq // self.hk
        if rep > 1:
            k, v = np.repeat(k, rep, axis=0), np.repeat(v, rep, axis=0)
        scale = self.attrs.get("scale")
        root = dt.type(np.sqrt(1 / np.sqrt(q.shape[-1]) if scale is None else scale))
        # numpy promotes bfloat16 products to float32: back to the input type, as ONNX does
        qk = ((q * root) @ (k * root).transpose(0, 2, 1)).astype(dt, copy=False)
        cap = float(self.attrs.get("softcap", 0) or 0)
        if cap > 0:
            qk = np.tanh(qk / dt.type(cap)) * dt.type(cap)
        with_bias = qk + bias
        out_qk = with_bias if self.mode == 2 else qk
        prec = self.attrs.get("softmax_precision")
        x = with_bias.astype(PRECISION.get(int(prec), np.float32)) if prec else with_bias
        top = np.max(x, axis=-1, keepdims=True)
        e = np.exp(x - np.where(np.isneginf(top), 0, top))
        total = np.sum(e, axis=-1, keepdims=True)
        p = e / np.where(total == 0, 1, total)
        p = np.where(np.isneginf(np.max(bias, axis=-1, keepdims=True)), 0, p)
        if self.mode == 3:
            out_qk = p
        y = (p.astype(dt) @ v).astype(dt, copy=False)
        if self.rank3:
            y = y.transpose(1, 0, 2).reshape(s, -1)
        return y, present_k, present_v, out_qk.astype(dt)


@register("RotaryEmbedding")
class RotaryEmbedding(Blocked):
    """Rotates the first `rotary_embedding_dim` features of every head by the
    cached angles of its position (halves, or interleaved pairs).  Chunk order:
    per batch index b: read X[b], the caches (their rows of b when there are no
    position ids) and position_ids[b], write Y[b]."""

    order = "per batch index: read X[b], the caches and positions of b, write Y[b]"

    def prepare(self) -> None:
        xs = self.in_shapes[0]
        if len(xs) not in (3, 4):
            raise self.fail(f"input must be 3-D or 4-D, got {xs}")
        self.heads = xs[1] if len(xs) == 4 else int(self.attrs.get("num_heads", 0))
        if self.heads < 1:
            raise self.fail("a 3-D input needs num_heads")
        self.block_scratch(4 * int(np.prod(xs[1:])), 2)

    def chunks(self):
        pos = self.has_input(3)
        for b in range(self.in_shapes[0][0]):
            cache = () if pos else (b,)
            yield ((b,),), ((b,), cache, cache, (b,) if pos else None), b

    def compute(self, b, x, cos, sin, pos=None):
        four = x.ndim == 3 and len(self.in_shapes[0]) == 4
        v = x.transpose(1, 0, 2) if four else x.reshape(x.shape[0], self.heads, -1)
        rd = int(self.attrs.get("rotary_embedding_dim", 0) or v.shape[-1])
        if pos is not None:
            cos, sin = cos[pos], sin[pos]
        cos, sin = cos[:, None, :], sin[:, None, :]
        rot = v[..., :rd]
        inter = bool(self.attrs.get("interleaved", 0))
        x1, x2 = (rot[..., 0::2], rot[..., 1::2]) if inter else np.split(rot, 2, axis=-1)
        real, imag = cos * x1 - sin * x2, sin * x1 + cos * x2
        rot = (np.stack([real, imag], axis=-1).reshape(rot.shape) if inter
               else np.concatenate([real, imag], axis=-1))
        y = np.concatenate([rot, v[..., rd:]], axis=-1)
        return (y.transpose(1, 0, 2) if four else y.reshape(x.shape),)
