"""The lean encoder returns what sentence-transformers' own `encode` returns."""

from __future__ import annotations

import numpy as np
import pytest

from modelmint.runtime.registry import Registry
from modelmint.runtime.sentence_encoder import FORWARD_BATCH, SentenceEncoder

pytestmark = pytest.mark.real_model


@pytest.fixture(scope="module")
def encoder():
    return SentenceEncoder.load(Registry.from_file().resolve("minilm").weights_path(), threads=2)


def test_matches_sentence_transformers_encode(encoder):
    # more texts than one forward batch, of very different lengths, in no order
    texts = [("word " * (1 + (i * 37) % 90)).strip() + f" number {i}" for i in range(80)]
    assert len(texts) > 2 * FORWARD_BATCH
    rows = encoder.encode(texts, encoder.count_tokens(texts))
    from sentence_transformers import SentenceTransformer

    path = Registry.from_file().resolve("minilm").weights_path()
    model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
    reference = model.encode(texts, batch_size=64, normalize_embeddings=True)
    assert rows.shape == (80, 384) and rows.dtype == np.float32
    assert np.abs(rows - reference).max() < 1e-5


def test_counts_match_the_tokenizer_and_are_not_truncated(encoder):
    counts = encoder.count_tokens(["hello world", "word " * 600])
    assert counts[0] == 4  # [CLS] hello world [SEP]
    assert counts[1] > encoder.max_tokens
    assert encoder.count_tokens([]) == []
