"""A sentence-transformers model run the lean way: texts in, unit-length float32 rows out.

`SentenceTransformer.encode` is the reference, and this returns the same vectors (to
float rounding), but it spends less around the model: the engine tokenizes every text once
up front (it needs the counts anyway, to refuse overlong inputs and to bill), the texts
are sorted by that token count so each batch pads to little, and the rows come back as
one numpy array with no per-batch bookkeeping. On the 2-core reference machine this
encodes all-MiniLM-L6-v2 about 1.2x faster than `encode(batch_size=64)`
(benchmarks/embeddings.py), which is what leaves room for HTTP and the business layer.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from modelmint.runtime.offline import stay_offline

# texts per forward pass: on CPU, 32 length-sorted texts were the fastest per text for
# MiniLM (16 and 64 within 3-5%, 8 about 12% slower)
FORWARD_BATCH = 32


class SentenceEncoder:
    def __init__(self, model) -> None:  # a loaded SentenceTransformer
        self._model = model
        # counting runs on another thread than encoding; one Rust tokenizer used by two
        # threads at once fails ("Already borrowed") when their settings differ
        self._counting_tokenizer = copy.deepcopy(model.tokenizer)
        name = model.default_prompt_name
        self._prompt: str | None = model.prompts.get(name) if name else None

    @classmethod
    def load(cls, path: Path, threads: int) -> SentenceEncoder:
        stay_offline()
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(threads)
        model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        model.eval()
        return cls(model)

    @property
    def max_tokens(self) -> int:
        return self._model.max_seq_length

    @property
    def dimensions(self) -> int:
        return self._model.get_embedding_dimension()

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Each text's token count as the model sees it (special tokens and the model's
        default prompt included), untruncated, from one tokenizer call. Safe to call
        while another thread encodes."""
        if not texts:
            return []
        prefix = self._prompt or ""
        ids = self._counting_tokenizer(
            [prefix + text for text in texts], add_special_tokens=True
        )
        return [len(row) for row in ids["input_ids"]]

    def encode(self, texts: Sequence[str], lengths: Sequence[int]) -> np.ndarray:
        """Unit-length embeddings, one float32 row per text, in the order given.
        `lengths` are the texts' token counts (`count_tokens`), used to batch by length."""
        import torch

        rows = np.empty((len(texts), self.dimensions), dtype=np.float32)
        order = sorted(range(len(texts)), key=lengths.__getitem__)
        with torch.inference_mode():
            for start in range(0, len(order), FORWARD_BATCH):
                picked = order[start : start + FORWARD_BATCH]
                features = self._model.preprocess([texts[i] for i in picked], prompt=self._prompt)
                vectors = self._model(features)["sentence_embedding"]
                rows[picked] = torch.nn.functional.normalize(vectors, p=2, dim=1).numpy()
        return rows
