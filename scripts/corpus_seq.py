"""PyTorch sequence models of the real-world corpus: transformers and recurrent audio nets.

Imported by make_corpus.py (generation venv only). The transformers follow
Hugging Face's BertModel and GPT2LMHeadModel module for module (embeddings
from position-id buffers sliced by the input's own length, the extended
attention mask, view/permute head splitting, GPT-2's Conv1D, causal-mask
buffer and tanh GELU), so the exported graphs carry the same
Shape/Gather/Concat/Reshape/Slice/Where chains; only the sizes are tiny.
"""

from __future__ import annotations

import math

import torch
from torch import nn

VOCAB = 1000
MAX_POSITIONS = 128


# --- BERT (BertModel: embeddings, encoder layers, pooler) -------------------------------------

class BertSelfAttention(nn.Module):
    def __init__(self, hidden: int, heads: int):
        super().__init__()
        self.heads, self.head_size = heads, hidden // heads
        self.query, self.key, self.value = (nn.Linear(hidden, hidden) for _ in range(3))

    def split_heads(self, x):
        return x.view(x.size()[:-1] + (self.heads, self.head_size)).permute(0, 2, 1, 3)

    def forward(self, h, mask):
        q, k, v = self.split_heads(self.query(h)), self.split_heads(self.key(h)), \
            self.split_heads(self.value(h))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_size) + mask
        ctx = torch.matmul(nn.functional.softmax(scores, dim=-1), v).permute(0, 2, 1, 3)
        return ctx.contiguous().view(ctx.size()[:-2] + (self.heads * self.head_size,))


class BertLayer(nn.Module):
    def __init__(self, hidden: int, heads: int, intermediate: int):
        super().__init__()
        self.attention = BertSelfAttention(hidden, heads)
        self.attn_out, self.attn_norm = nn.Linear(hidden, hidden), nn.LayerNorm(hidden, eps=1e-12)
        self.intermediate, self.act = nn.Linear(hidden, intermediate), nn.GELU()  # erf GELU
        self.output = nn.Linear(intermediate, hidden)
        self.out_norm = nn.LayerNorm(hidden, eps=1e-12)

    def forward(self, h, mask):
        h = self.attn_norm(self.attn_out(self.attention(h, mask)) + h)
        return self.out_norm(self.output(self.act(self.intermediate(h))) + h)


class Bert(nn.Module):
    """BertModel (default: hidden 64, 2 layers, 4 heads): last_hidden_state and pooler_output."""

    def __init__(self, hidden: int = 64, layers: int = 2, heads: int = 4, intermediate: int = 256,
                 vocab: int = VOCAB, max_positions: int = MAX_POSITIONS):
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab, hidden)
        self.position_embeddings = nn.Embedding(max_positions, hidden)
        self.token_type_embeddings = nn.Embedding(2, hidden)
        self.emb_norm = nn.LayerNorm(hidden, eps=1e-12)
        self.register_buffer("position_ids", torch.arange(max_positions).expand((1, -1)))
        self.layer = nn.ModuleList(BertLayer(hidden, heads, intermediate) for _ in range(layers))
        self.pooler = nn.Linear(hidden, hidden)

    def forward(self, input_ids, attention_mask, token_type_ids):
        seq = input_ids.size(1)
        pos = self.position_ids[:, :seq]
        h = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids) \
            + self.position_embeddings(pos)
        h = self.emb_norm(h)
        mask = attention_mask[:, None, None, :].to(h.dtype)
        mask = (1.0 - mask) * torch.finfo(h.dtype).min
        for layer in self.layer:
            h = layer(h, mask)
        return h, torch.tanh(self.pooler(h[:, 0]))


# --- GPT-2 (GPT2LMHeadModel with and without past_key_values) ---------------------------------

class Conv1D(nn.Module):
    """GPT-2's transposed linear: addmm over the flattened leading dims."""

    def __init__(self, nf: int, nx: int):
        super().__init__()
        self.nf = nf
        self.weight = nn.Parameter(torch.randn(nx, nf) * 0.02)
        self.bias = nn.Parameter(torch.zeros(nf))

    def forward(self, x):
        out_shape = x.size()[:-1] + (self.nf,)
        return torch.addmm(self.bias, x.view(-1, x.size(-1)), self.weight).view(out_shape)


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3.0))))


class GPT2Attention(nn.Module):
    def __init__(self, hidden: int, heads: int, max_positions: int):
        super().__init__()
        self.heads, self.head_dim, self.hidden = heads, hidden // heads, hidden
        causal = torch.tril(torch.ones(max_positions, max_positions, dtype=torch.bool))
        self.register_buffer("bias", causal.view(1, 1, max_positions, max_positions))
        self.c_attn, self.c_proj = Conv1D(3 * hidden, hidden), Conv1D(hidden, hidden)

    def split(self, x):
        return x.view(x.size()[:-1] + (self.heads, self.head_dim)).permute(0, 2, 1, 3)

    def forward(self, h, mask, past):
        q, k, v = self.c_attn(h).split(self.hidden, dim=2)
        q, k, v = self.split(q), self.split(k), self.split(v)
        if past is not None:
            k, v = torch.cat((past[0], k), dim=-2), torch.cat((past[1], v), dim=-2)
        w = torch.matmul(q, k.transpose(-1, -2)) / torch.full([], v.size(-1) ** 0.5)
        qlen, klen = q.size(-2), k.size(-2)
        causal = self.bias[:, :, klen - qlen:klen, :klen]
        w = torch.where(causal, w, torch.full([], torch.finfo(w.dtype).min)) + mask
        a = torch.matmul(nn.functional.softmax(w, dim=-1), v).permute(0, 2, 1, 3).contiguous()
        return self.c_proj(a.view(a.size()[:-2] + (self.hidden,))), (k, v)


class GPT2Block(nn.Module):
    def __init__(self, hidden: int, heads: int, max_positions: int):
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(hidden), nn.LayerNorm(hidden)
        self.attn = GPT2Attention(hidden, heads, max_positions)
        self.c_fc, self.c_proj = Conv1D(4 * hidden, hidden), Conv1D(hidden, 4 * hidden)

    def forward(self, h, mask, past):
        a, present = self.attn(self.ln_1(h), mask, past)
        h = h + a
        return h + self.c_proj(gelu_new(self.c_fc(self.ln_2(h)))), present


class GPT2(nn.Module):
    """GPT2LMHeadModel (default: n_embd 64, 2 layers, 4 heads), lm_head tied to wte."""

    def __init__(self, hidden: int = 64, layers: int = 2, heads: int = 4, with_past: bool = False,
                 vocab: int = VOCAB, max_positions: int = MAX_POSITIONS):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(vocab, hidden), nn.Embedding(max_positions, hidden)
        self.h = nn.ModuleList(GPT2Block(hidden, heads, max_positions) for _ in range(layers))
        self.ln_f = nn.LayerNorm(hidden)
        self.with_past = with_past

    def forward(self, input_ids, attention_mask, *past_flat):
        past = [tuple(past_flat[i:i + 2]) for i in range(0, len(past_flat), 2)] or \
            [None] * len(self.h)
        past_len = 0 if past[0] is None else past[0][0].size(-2)
        seq = input_ids.size(-1)
        pos = torch.arange(past_len, past_len + seq, dtype=torch.long).unsqueeze(0)
        h = self.wte(input_ids) + self.wpe(pos)
        mask = attention_mask.view(input_ids.size(0), -1)[:, None, None, :].to(h.dtype)
        mask = (1.0 - mask) * torch.finfo(h.dtype).min
        presents = []
        for block, p in zip(self.h, past, strict=True):
            h, present = block(h, mask, p)
            presents.extend(present)
        logits = torch.matmul(self.ln_f(h), self.wte.weight.t())
        return (logits, *presents) if self.with_past else logits


# --- audio: LSTM keyword spotter, GRU noise suppressor ----------------------------------------

class LSTMKeywordSpotter(nn.Module):
    """MFCC frames -> LSTM(64) -> last frame -> 12 keyword logits (Hello Edge's LSTM KWS)."""

    def __init__(self, features: int = 40, hidden: int = 64, classes: int = 12):
        super().__init__()
        self.lstm = nn.LSTM(features, hidden, batch_first=True)
        self.fc = nn.Linear(hidden, classes)

    def forward(self, mfcc):
        out, _ = self.lstm(mfcc)
        return self.fc(out[:, -1])


class GRUDenoiser(nn.Module):
    """RNNoise's network: dense tanh, three GRUs (VAD, noise, denoise), band gains + VAD."""

    def __init__(self, features: int = 42, bands: int = 22):
        super().__init__()
        self.dense_in = nn.Linear(features, 24)
        self.vad_gru = nn.GRU(24, 24, batch_first=True)
        self.vad_out = nn.Linear(24, 1)
        self.noise_gru = nn.GRU(24 + 24 + features, 48, batch_first=True)
        self.denoise_gru = nn.GRU(24 + 48 + features, 96, batch_first=True)
        self.gains = nn.Linear(96, bands)

    def forward(self, features):
        d = torch.tanh(self.dense_in(features))
        vad, _ = self.vad_gru(d)
        noise, _ = self.noise_gru(torch.cat((d, vad, features), -1))
        den, _ = self.denoise_gru(torch.cat((vad, noise, features), -1))
        return torch.sigmoid(self.gains(den)), torch.sigmoid(self.vad_out(vad))
