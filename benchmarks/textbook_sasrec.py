"""The fixed "textbook" SASRec used as the speed (and accuracy) reference in ``sequential.py``.

Not a benchmark of its own (``run_all.py`` skips it: it has no ``main``); imported by
``benchmarks/sequential.py``. The configuration is fixed by issue 8 and must not be tuned:
max_len 200, embedding 64, 2 pre-LayerNorm blocks of ``torch.nn.MultiheadAttention`` with 1
head, dropout 0.2, output tied to the item embeddings, full softmax cross-entropy at every
non-padding position, fp32, Adam (lr 1e-3), batch 128, each user's last 201 items per
epoch. Sequences are left-padded as in the original SASRec code, and logits are computed for
every position of the padded batch before the padding targets are ignored.
"""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

MAX_LEN = 200
DIM = 64
BATCH = 128


class _Block(nn.Module):
    def __init__(self, dim: int, dropout: float) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, 1, dropout=dropout, batch_first=True)
        self.ln2 = nn.LayerNorm(dim)
        self.ff = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Dropout(dropout), nn.Linear(dim, dim),
                                nn.Dropout(dropout))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, causal: torch.Tensor) -> torch.Tensor:
        h = self.ln1(x)
        a, _ = self.attn(h, h, h, attn_mask=causal, need_weights=False)
        x = x + self.drop(a)
        return x + self.ff(self.ln2(x))


class TextbookSASRec(nn.Module):
    """SASRec with full cross-entropy, as written in most tutorials."""

    def __init__(self, n_items: int, dim: int = DIM, max_len: int = MAX_LEN, dropout: float = 0.2) -> None:
        super().__init__()
        self.item_emb = nn.Embedding(n_items + 1, dim, padding_idx=0)
        self.pos_emb = nn.Embedding(max_len, dim)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList([_Block(dim, dropout) for _ in range(2)])
        self.ln = nn.LayerNorm(dim)
        self.dim = dim
        self.register_buffer("causal", torch.triu(torch.ones(max_len, max_len, dtype=torch.bool), 1))

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        t = seq.shape[1]
        x = self.item_emb(seq) * self.dim ** 0.5 + self.pos_emb.weight[:t]
        x = self.drop(x)
        keep = (seq > 0).unsqueeze(-1)
        x = x * keep
        for block in self.blocks:
            x = block(x, self.causal[:t, :t]) * keep
        return self.ln(x)


def left_padded(seqs: list[np.ndarray], max_len: int = MAX_LEN) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and targets ``(n, max_len)`` from each sequence's last ``max_len + 1`` items
    (item codes + 1, 0 = padding)."""
    inp = np.zeros((len(seqs), max_len), dtype=np.int64)
    tgt = np.zeros((len(seqs), max_len), dtype=np.int64)
    for r, s in enumerate(seqs):
        s = np.asarray(s[-(max_len + 1):], dtype=np.int64) + 1
        n = len(s) - 1
        if n > 0:
            inp[r, max_len - n:] = s[:-1]
            tgt[r, max_len - n:] = s[1:]
    return inp, tgt


def train_epoch(model: TextbookSASRec, opt: torch.optim.Optimizer, inp: np.ndarray, tgt: np.ndarray,
                rng: np.random.Generator, max_batches: int | None = None) -> tuple[float, int, float]:
    """One epoch (or ``max_batches`` batches): ``(mean loss, targets, seconds)``."""
    model.train()
    order = rng.permutation(len(inp))
    t0 = time.perf_counter()
    total, n_targets = 0.0, 0
    for b, start in enumerate(range(0, len(order), BATCH)):
        if max_batches is not None and b >= max_batches:
            break
        idx = order[start:start + BATCH]
        x = torch.from_numpy(inp[idx])
        y = torch.from_numpy(tgt[idx])
        h = model(x)
        logits = h @ model.item_emb.weight.T
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=0)
        opt.zero_grad()
        loss.backward()
        opt.step()
        n = int((y > 0).sum())
        total += float(loss) * n
        n_targets += n
    return total / max(n_targets, 1), n_targets, time.perf_counter() - t0


@torch.inference_mode()
def score(model: TextbookSASRec, histories: list[np.ndarray]) -> torch.Tensor:
    """Scores ``(n, n_items)`` of the next item after each history (item codes)."""
    model.eval()
    inp = np.zeros((len(histories), MAX_LEN), dtype=np.int64)
    for r, s in enumerate(histories):
        s = np.asarray(s[-MAX_LEN:], dtype=np.int64) + 1
        inp[r, MAX_LEN - len(s):] = s
    h = model(torch.from_numpy(inp))[:, -1]
    return h @ model.item_emb.weight[1:].T


if __name__ == "__main__":  # pragma: no cover - imported by benchmarks/sequential.py
    print("textbook_sasrec.py is the reference model of benchmarks/sequential.py; run that script.")
