"""A fine-tune's merged weights put back on its base model's quantization grid, so the
fine-tuned GGUF has the base's types, size and speed.

Each quantized block keeps the base's scale (and offset); only the 4- or 8-bit steps
change. A fine-tune's change to a weight is mostly smaller than a step, so rounding each
weight to its nearest step would put it back where the base had it and the model would
forget what it learnt. Instead the steps are chosen column by column as GPTQ does (Frantar
et al., 2022): the rounding error of a column is pushed onto the columns not yet rounded,
weighted by how the layer's inputs go together (`hessian`, the sum of x xᵀ over the
fine-tune's own examples), so the layer's outputs on those inputs stay as the merged
weights make them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

BLOCK = 32  # weights per block in Q4_1 and Q8_0
DAMPING = 0.001  # of the Hessian's mean diagonal, added for a stable inverse
LAZY_BLOCK = 128  # columns rounded before their errors reach the columns after them


@dataclass(frozen=True, slots=True)
class Grid:
    """A quantized tensor's blocks: per block a scale `d` and offset `m`, steps lo..hi."""

    d: np.ndarray  # (rows, blocks)
    m: np.ndarray  # (rows, blocks)
    lo: int
    hi: int


def q4_1_grid(raw: np.ndarray, rows: int) -> Grid:
    # block: f16 scale d, f16 offset m, 16 bytes of 4-bit steps; a weight is m + d * step
    blocks = raw.reshape(-1, 20)
    d = blocks[:, 0:2].copy().view(np.float16).astype(np.float32).reshape(rows, -1)
    m = blocks[:, 2:4].copy().view(np.float16).astype(np.float32).reshape(rows, -1)
    return Grid(d, m, 0, 15)


def q4_1_pack(raw: np.ndarray, steps: np.ndarray) -> np.ndarray:
    # low nibbles hold a block's weights 0-15, high nibbles 16-31
    blocks = raw.reshape(-1, 20).copy()
    steps = steps.reshape(-1, BLOCK).astype(np.uint8)
    blocks[:, 4:20] = steps[:, :16] | (steps[:, 16:] << 4)
    return blocks.reshape(raw.shape)


def q8_0_grid(raw: np.ndarray, rows: int) -> Grid:
    # block: f16 scale d, 32 signed 8-bit steps; a weight is d * step
    blocks = raw.reshape(-1, 34)
    d = blocks[:, 0:2].copy().view(np.float16).astype(np.float32).reshape(rows, -1)
    return Grid(d, np.zeros_like(d), -127, 127)


def q8_0_pack(raw: np.ndarray, steps: np.ndarray) -> np.ndarray:
    blocks = raw.reshape(-1, 34).copy()
    blocks[:, 2:34] = steps.reshape(-1, BLOCK).astype(np.int8).view(np.uint8)
    return blocks.reshape(raw.shape)


# GGML_TYPE_* -> (the grid of a tensor's raw blocks, the raw blocks with new steps)
GRIDS = {3: (q4_1_grid, q4_1_pack), 8: (q8_0_grid, q8_0_pack)}


def steps_on_grid(weights: np.ndarray, grid: Grid, hessian: np.ndarray | None) -> np.ndarray:
    """The steps (rows, columns) that best reproduce `weights` (rows, columns) on `grid`:
    GPTQ's column-by-column rounding with error feedback through `hessian` (columns,
    columns); plain rounding to the nearest step without one."""
    import torch

    w = torch.from_numpy(weights.astype(np.float32)).clone()
    d = torch.from_numpy(np.repeat(grid.d, BLOCK, axis=1))
    m = torch.from_numpy(np.repeat(grid.m, BLOCK, axis=1))
    safe = torch.where(d > 0, d, torch.ones_like(d))

    def nearest(column: Any, i: int) -> Any:
        return torch.clamp(torch.round((column - m[:, i]) / safe[:, i]), grid.lo, grid.hi)

    columns = w.shape[1]
    steps = torch.empty_like(w)
    if hessian is None:
        for i in range(columns):
            steps[:, i] = nearest(w[:, i], i)
        return steps.numpy()
    upper = _inverse_cholesky(torch.from_numpy(hessian.astype(np.float64)))
    # GPTQ's lazy batches: errors go to the rest of a block at once, to the columns after
    # it in one product per block (the same result, a fraction of the memory traffic)
    for start in range(0, columns, LAZY_BLOCK):
        end = min(start + LAZY_BLOCK, columns)
        block, errors = w[:, start:end].clone(), torch.empty(w.shape[0], end - start)
        local = upper[start:end, start:end]
        for j in range(end - start):
            i = start + j
            steps[:, i] = nearest(block[:, j], i)
            error = (block[:, j] - (m[:, i] + d[:, i] * steps[:, i])) / local[j, j]
            block[:, j + 1 :] -= error[:, None] * local[j, j + 1 :][None, :]
            errors[:, j] = error
        w[:, end:] -= errors @ upper[start:end, end:]
    return steps.numpy()


def _inverse_cholesky(hessian: Any) -> Any:
    """The upper Cholesky factor of the damped Hessian's inverse (GPTQ's `Hinv`)."""
    import torch

    h = hessian.clone()
    dead = torch.diag(h) == 0  # inputs that never moved: any value does
    h[dead, dead] = 1.0
    h += DAMPING * torch.mean(torch.diag(h)) * torch.eye(h.shape[0], dtype=h.dtype)
    inverse = torch.cholesky_inverse(torch.linalg.cholesky(h))
    return torch.linalg.cholesky(inverse, upper=True).float()
