"""Retrieval quality on the bilingual knowledge set (`benchmarks/knowledge_set/`): recall@1,
recall@3 and MRR of BM25 alone, embeddings alone and the hybrid, per language.

The set's 12 documents (6 Chinese, 6 English) are chunked as a knowledge base chunks them
(`knowledge/chunking.py`, tokens counted by the embeddings model's tokenizer) and embedded
with the default embeddings model (MiniLM); each question is searched through
`knowledge/index.py` with the weights of each method. A chunk is relevant when it comes
from the question's document and holds its evidence (or, where a cut split the evidence,
half of it and one of its answer keys). Questions the documents do not answer are left
out here.

    .venv/bin/python benchmarks/knowledge_retrieval.py [--chunk-tokens 256] [--overlap 128]
        [--weights 1:1,1:2,2:1] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import numpy as np

from modelmint.knowledge.chunking import chunk_text
from modelmint.knowledge.index import IndexedChunk, KnowledgeIndex, SearchOptions
from modelmint.knowledge.terms import Terms
from modelmint.runtime.registry import Registry
from modelmint.runtime.sentence_encoder import SentenceEncoder

SET = Path(__file__).parent / "knowledge_set"


def load_set() -> tuple[dict[str, str], list[dict]]:
    documents = {p.name: p.read_text(encoding="utf-8") for p in (SET / "documents").glob("*")}
    lines = (SET / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    questions = [json.loads(line) for line in lines if line.strip()]
    return documents, [q for q in questions if q["document"]]


def relevant(chunk: IndexedChunk, question: dict) -> bool:
    if chunk.filename != question["document"]:
        return False
    text = " ".join(chunk.text.split())
    evidence = " ".join(question["evidence"].split())
    if evidence in text:
        return True
    middle = len(evidence) // 2
    split = evidence[:middle] in text or evidence[middle:] in text
    return split and any(key in text for key in question["answer_keys"])


def embedded(encoder: SentenceEncoder, texts: list[str]) -> np.ndarray:
    """Embeddings as the model sees the texts (cut at its context, as the server cuts)."""
    return encoder.encode(texts, encoder.count_tokens(texts))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("--chunk-tokens", type=int, default=256)
    parser.add_argument("--overlap", type=int, default=128)
    parser.add_argument("--weights", default="1:1,2:1,1:2", help="text:embedding pairs")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    documents, questions = load_set()
    spec = Registry.from_file().resolve("text-embedding-default")
    encoder = SentenceEncoder.load(spec.weights_path(), threads=2)

    def count(text: str) -> int:
        return encoder.count_tokens([text])[0]

    chunks = [
        IndexedChunk(name, name, chunk.text)
        for name, text in sorted(documents.items())
        for chunk in chunk_text(text, count, args.chunk_tokens, args.overlap)
    ]
    vectors = embedded(encoder, [c.text for c in chunks])
    asked = embedded(encoder, [q["question"] for q in questions])
    index = KnowledgeIndex(Terms(), chunks, vectors)
    methods = {"bm25": (1.0, 0.0), "embeddings": (0.0, 1.0)}
    for pair in args.weights.split(","):
        text_weight, embedding_weight = (float(w) for w in pair.split(":"))
        methods[f"hybrid {pair}"] = (text_weight, embedding_weight)
    results = {}
    for method, (text_weight, embedding_weight) in methods.items():
        options = SearchOptions(max_results=10, text_weight=text_weight,
                                embedding_weight=embedding_weight)  # fmt: skip
        ranks = {"zh": [], "en": []}
        for question, vector in zip(questions, asked, strict=True):
            hits = index.search(question["question"], vector, options)
            found = [i for i, hit in enumerate(hits, 1) if relevant(hit.chunk, question)]
            ranks[question["language"]].append(found[0] if found else None)
        results[method] = {lang: _scores(r) for lang, r in ranks.items()}
        results[method]["all"] = _scores(ranks["zh"] + ranks["en"])
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"{len(chunks)} chunks of at most {args.chunk_tokens} tokens (overlap {args.overlap});"
          f" {len(questions)} questions", file=sys.stderr)  # fmt: skip
    print("| method | recall@1 | recall@3 | MRR | zh recall@3 | en recall@3 |")
    print("|---|---|---|---|---|---|")
    for method, scores in results.items():
        a, zh, en = scores["all"], scores["zh"], scores["en"]
        print(f"| {method} | {a['recall@1']:.2f} | {a['recall@3']:.2f} | {a['mrr']:.3f} "
              f"| {zh['recall@3']:.2f} | {en['recall@3']:.2f} |")  # fmt: skip


def _scores(ranks: list[int | None]) -> dict[str, float]:
    return {
        "recall@1": statistics.mean(r is not None and r <= 1 for r in ranks),
        "recall@3": statistics.mean(r is not None and r <= 3 for r in ranks),
        "mrr": statistics.mean(1 / r if r else 0.0 for r in ranks),
    }


if __name__ == "__main__":
    main()
