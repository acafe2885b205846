"""The PyTorch network behind [`SequentialTransformer`][liverec.models.SequentialTransformer] (private).

A SASRec-family encoder: item embeddings (plus projected item features) and learned
positions, pre-LayerNorm causal self-attention blocks with fused
``scaled_dot_product_attention`` (dropout on embeddings, residual branches and the
feed-forward layer, not on attention weights, so the fused causal kernel runs), a final LayerNorm, and an output layer tied to the item
embeddings. Sequences are right-padded (the first event at position 0), so the causal mask
alone keeps padding out of every real position's context and the fused causal kernel
applies without an extra padding mask.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class Dropout(nn.Module):
    """Inverted dropout whose mask comes from ``rand_like``: on CPU ``bernoulli_`` (what
    ``nn.Dropout`` draws with) costs about twice as much, and it was 15% of a training step."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = torch.rand_like(x) >= self.p
        return x * keep * (1.0 / (1.0 - self.p))


class CausalBlock(nn.Module):
    """Pre-LN block: ``x + attn(ln(x))`` then ``x + ffn(ln(x))``."""

    def __init__(self, dim: int, n_heads: int, dropout: float, ff_mult: int = 1) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.dropout = dropout
        self.ln1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.ln2 = nn.LayerNorm(dim)
        self.ff1 = nn.Linear(dim, ff_mult * dim)
        self.ff2 = nn.Linear(ff_mult * dim, dim)
        self.drop = Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        h = self.ln1(x)
        q, k, v = self.qkv(h).view(b, t, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)
        # no dropout on the attention weights: it would force the slow unfused kernel on CPU
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.drop(self.out(a.transpose(1, 2).reshape(b, t, d)))
        h = self.ln2(x)
        return x + self.drop(self.ff2(self.drop(F.gelu(self.ff1(h)))))


class SequenceEncoder(nn.Module):
    """Item sequence -> one hidden state per position; scores are dot products with items.

    Args:
        n_items: Catalogue size (row 0 of the embedding table is padding, item code ``c``
            is row ``c + 1``).
        dim: Embedding width.
        n_layers, n_heads, dropout: Transformer shape.
        max_len: Longest input sequence (number of learned positions).
        n_features: Width of the item feature matrix (0 for none).
        n_time_buckets: Buckets of the repeat-consumption embedding (0 to disable).
    """

    features: torch.Tensor

    def __init__(self, n_items: int, dim: int, n_layers: int, n_heads: int, dropout: float,
                 max_len: int, n_features: int = 0, n_time_buckets: int = 0) -> None:
        super().__init__()
        self.dim = dim
        self.item_emb = nn.Embedding(n_items + 1, dim, padding_idx=0)
        self.pos_emb = nn.Embedding(max_len, dim)
        self.emb_drop = Dropout(dropout)
        self.blocks = nn.ModuleList([CausalBlock(dim, n_heads, dropout) for _ in range(n_layers)])
        self.ln = nn.LayerNorm(dim)
        self.feature_proj: nn.Linear | None = None
        if n_features:
            self.feature_proj = nn.Linear(n_features, dim, bias=False)
            self.register_buffer("features", torch.zeros(n_items + 1, n_features))
        self.repeat_emb: nn.Embedding | None = None
        if n_time_buckets:
            self.repeat_emb = nn.Embedding(n_time_buckets + 1, dim)
            nn.init.zeros_(self.repeat_emb.weight)
        nn.init.normal_(self.item_emb.weight, std=1.0 / math.sqrt(dim))
        nn.init.normal_(self.pos_emb.weight, std=1.0 / math.sqrt(dim))
        with torch.no_grad():
            self.item_emb.weight[0].zero_()

    def item_matrix(self) -> torch.Tensor:
        """Embeddings of the padding row and every item, ``(n_items + 1, dim)``."""
        w = self.item_emb.weight
        if self.feature_proj is not None:
            w = w + self.feature_proj(self.features)
        return w

    def forward(self, seq: torch.Tensor, items: torch.Tensor | None = None) -> torch.Tensor:
        """Hidden states ``(B, T, dim)`` of right-padded ``seq`` (0 = padding)."""
        if items is None:
            items = self.item_matrix()
        t = seq.shape[1]
        x = F.embedding(seq, items) * math.sqrt(self.dim)
        x = x + self.pos_emb.weight[:t]
        x = self.emb_drop(x)
        for block in self.blocks:
            x = block(x)
        return self.ln(x)

    def repeat_scores(self, h: torch.Tensor) -> torch.Tensor | None:
        """``h . R[b]`` for every time bucket ``b``: ``(N, n_time_buckets + 1)``."""
        if self.repeat_emb is None:
            return None
        return h @ self.repeat_emb.weight.T
