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
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from modelmint.runtime.offline import stay_offline

# texts per forward pass: on CPU, 32 length-sorted texts were the fastest per text for
# MiniLM (16 and 64 within 3-5%, 8 about 12% slower)
FORWARD_BATCH = 32
# padded tokens per forward pass: 32 short texts, or 8 of MiniLM's longest (~0.3 s here),
# so that a request arriving meanwhile waits for little
FORWARD_TOKENS = 2048


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
        rows = np.empty((len(texts), self.dimensions), dtype=np.float32)
        for picked, vectors in self.encode_batches(texts, lengths):
            rows[picked] = vectors
        return rows

    def encode_batches(
        self, texts: Sequence[str], lengths: Sequence[int]
    ) -> Iterator[tuple[list[int], np.ndarray]]:
        """(positions, rows) one forward pass at a time, shortest texts first, so a caller
        can hand rows out as they come and stop between passes."""
        import torch

        order = sorted(range(len(texts)), key=lengths.__getitem__)
        for picked in forward_batches(order, lengths):
            # entered per pass, not across the yield: a caller may stop between passes
            with torch.inference_mode():
                features = self._model.preprocess([texts[i] for i in picked], prompt=self._prompt)
                vectors = self._model(features)["sentence_embedding"]
                rows = torch.nn.functional.normalize(vectors, p=2, dim=1).numpy()
            yield picked, rows


def forward_batches(order: list[int], lengths: Sequence[int]) -> Iterator[list[int]]:
    """`order` (sorted by length) cut into passes of at most FORWARD_BATCH texts and
    FORWARD_TOKENS padded tokens, so that no pass takes long; and a short text does not
    share a pass with texts many times its length (it would be padded to them, and wait
    for them)."""
    batch: list[int] = []
    for i in order:
        longest, shortest = lengths[i], lengths[batch[0]] if batch else lengths[i]
        full = len(batch) == FORWARD_BATCH or (len(batch) + 1) * longest > FORWARD_TOKENS
        mismatched = longest > 4 * shortest and longest - shortest > 64
        if batch and (full or mismatched):
            yield batch
            batch = []
        batch.append(i)
    if batch:
        yield batch
