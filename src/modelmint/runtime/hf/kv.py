"""The KV cache of every running sequence, as one left-padded batch.

Row i holds sequence i's keys and values right-aligned; `mask` marks real cells (1) and
padding (0). A sequence joins with its own prefilled cache (both sides are left-padded to
the longer one, then stacked) and leaves by dropping its row (then columns that are padding
in every row go too). Decode steps append one column to every row through the model.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from transformers import DynamicCache


class BatchedKV:
    def __init__(self) -> None:
        self.cache: DynamicCache | None = None
        self.mask = torch.zeros((0, 0), dtype=torch.long)

    @property
    def rows(self) -> int:
        return self.mask.shape[0]

    @property
    def width(self) -> int:
        return self.mask.shape[1]

    def join(self, cache: DynamicCache, length: int) -> None:
        """Add one sequence's cache (batch 1, `length` cells) as the last row."""
        if self.cache is None or self.rows == 0:
            self.cache, self.mask = cache, torch.ones((1, length), dtype=torch.long)
            return
        width = max(self.width, length)
        for mine, theirs in zip(self.cache.layers, cache.layers, strict=True):
            mine.keys = torch.cat([_pad(mine.keys, width), _pad(theirs.keys, width)])
            mine.values = torch.cat([_pad(mine.values, width), _pad(theirs.values, width)])
        new_row = F.pad(torch.ones((1, length), dtype=torch.long), (width - length, 0))
        self.mask = torch.cat([F.pad(self.mask, (width - self.width, 0)), new_row])

    def keep(self, rows: list[int]) -> None:
        """Keep only these rows (in this order), then drop all-padding columns."""
        if not rows:
            self.cache, self.mask = None, torch.zeros((0, 0), dtype=torch.long)
            return
        index = torch.tensor(rows)
        self.mask = self.mask[index]
        first = int(self.mask.any(dim=0).long().argmax())
        self.mask = self.mask[:, first:]
        assert self.cache is not None
        for layer in self.cache.layers:
            layer.keys = layer.keys[index, :, first:, :]
            layer.values = layer.values[index, :, first:, :]

    def step_mask(self) -> torch.Tensor:
        """The attention mask of a one-token step: every row's cells plus the new one."""
        self.mask = torch.cat([self.mask, torch.ones((self.rows, 1), dtype=torch.long)], dim=1)
        return self.mask


def _pad(tensor: torch.Tensor, width: int) -> torch.Tensor:
    """Left-pad [batch, heads, cells, dim] with zero cells up to `width`."""
    return F.pad(tensor, (0, 0, width - tensor.shape[-2], 0))
