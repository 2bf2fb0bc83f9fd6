"""Putting changed weights back on a base's Q4_1 grid: unchanged weights come back exactly,
and a change smaller than a grid step, which plain rounding drops, is kept in the layer's
outputs by GPTQ's error feedback."""

from __future__ import annotations

import numpy as np
from gguf import GGMLQuantizationType
from gguf.quants import dequantize, quantize

from modelmint.training.base_grid import q4_1_grid, q4_1_pack, steps_on_grid

ROWS, COLUMNS = 16, 128


def base_tensor(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(raw Q4_1 blocks, the weights they hold)."""
    raw = quantize(rng.normal(size=(ROWS, COLUMNS)).astype(np.float32), GGMLQuantizationType.Q4_1)
    return raw, dequantize(raw, GGMLQuantizationType.Q4_1).reshape(ROWS, COLUMNS)


def on_grid(raw: np.ndarray, weights: np.ndarray, hessian: np.ndarray | None) -> np.ndarray:
    packed = q4_1_pack(raw, steps_on_grid(weights, q4_1_grid(raw, ROWS), hessian))
    return dequantize(packed, GGMLQuantizationType.Q4_1).reshape(ROWS, COLUMNS)


def test_unchanged_weights_come_back_exactly():
    rng = np.random.default_rng(0)
    raw, weights = base_tensor(rng)
    inputs = rng.normal(size=(500, COLUMNS))
    assert np.array_equal(on_grid(raw, weights, None), weights)
    assert np.array_equal(on_grid(raw, weights, inputs.T @ inputs), weights)


def test_a_change_below_a_step_survives_in_the_outputs():
    rng = np.random.default_rng(1)
    raw, weights = base_tensor(rng)
    step = np.repeat(q4_1_grid(raw, ROWS).d, 32, axis=1)
    # a low-rank change a fifth of a step in size, as a LoRA fine-tune makes
    change = np.outer(rng.normal(size=ROWS), rng.normal(size=COLUMNS))
    change *= 0.2 * step.mean() / np.abs(change).mean()
    # a layer's inputs go together (a few directions carry most of them), which is what
    # error feedback uses; with independent inputs it could only round to the nearest
    inputs = rng.normal(size=(2000, 12)) @ rng.normal(size=(12, COLUMNS))
    inputs = (inputs + 0.1 * rng.normal(size=inputs.shape)).astype(np.float32)
    wanted = inputs @ (weights + change).T

    def output_error(got: np.ndarray) -> float:
        return float(np.linalg.norm(inputs @ got.T - wanted))

    nearest = on_grid(raw, weights + change, None)
    feedback = on_grid(raw, weights + change, inputs.T.astype(np.float64) @ inputs)
    assert output_error(feedback) < 0.5 * output_error(nearest)
    assert output_error(nearest) > 0.5 * float(np.linalg.norm(inputs @ change.T))
