"""The batched, left-padded KV cache of the transformers engine: joining and leaving rows."""

from __future__ import annotations

import torch
from transformers import DynamicCache

from modelmint.runtime.hf.kv import BatchedKV

LAYERS, HEADS, DIM = 2, 3, 4


def one_cache(length: int, value: float) -> DynamicCache:
    cache = DynamicCache()
    for layer in range(LAYERS):
        states = torch.full((1, HEADS, length, DIM), value)
        cache.update(states, states + 0.5, layer)
    return cache


def row_cells(kv: BatchedKV, row: int) -> torch.Tensor:
    """The real (unpadded) keys of one row, layer 0."""
    keys = kv.cache.layers[0].keys[row]
    return keys[:, kv.mask[row].bool(), :]


def test_rows_of_different_lengths_are_right_aligned():
    kv = BatchedKV()
    kv.join(one_cache(3, 1.0), 3)
    kv.join(one_cache(5, 2.0), 5)
    kv.join(one_cache(2, 3.0), 2)
    assert kv.rows == 3 and kv.width == 5
    assert kv.mask.tolist() == [[0, 0, 1, 1, 1], [1, 1, 1, 1, 1], [0, 0, 0, 1, 1]]
    for row, (length, value) in enumerate([(3, 1.0), (5, 2.0), (2, 3.0)]):
        cells = row_cells(kv, row)
        assert cells.shape == (HEADS, length, DIM) and bool((cells == value).all())
    values = kv.cache.layers[1].values
    assert values.shape == (3, HEADS, 5, DIM)


def test_leaving_drops_the_row_and_the_columns_nobody_uses():
    kv = BatchedKV()
    kv.join(one_cache(3, 1.0), 3)
    kv.join(one_cache(6, 2.0), 6)
    kv.join(one_cache(4, 3.0), 4)
    kv.keep([0, 2])  # the longest leaves: two padding columns are no longer needed
    assert kv.width == 4
    assert kv.mask.tolist() == [[0, 1, 1, 1], [1, 1, 1, 1]]
    assert bool((row_cells(kv, 0) == 1.0).all()) and bool((row_cells(kv, 1) == 3.0).all())
    kv.keep([])
    assert kv.rows == 0 and kv.cache is None
    kv.join(one_cache(2, 4.0), 2)  # an empty batch starts again from the newcomer
    assert kv.mask.tolist() == [[1, 1]]


def test_a_step_adds_one_real_cell_to_every_row():
    kv = BatchedKV()
    kv.join(one_cache(2, 1.0), 2)
    kv.join(one_cache(3, 2.0), 3)
    mask = kv.step_mask()
    assert mask.tolist() == [[0, 1, 1, 1], [1, 1, 1, 1]]
