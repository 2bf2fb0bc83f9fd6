"""`POST /v1/classify`: each input's label among the caller's labels, zero-shot, with a
score per label (they sum to 1), on the metered path.

Two ways to score the labels, chosen per request by `method` (`auto` takes the one
measured best by benchmarks/classify.py):
- `chat`: the chat model reads the text and the labels and answers with one; the
  probabilities of its first token beginning each label, divided by those it gives a
  content-free text (its bias) and renormalised, are the scores (all inputs run as one
  batched request, one ledger row);
- `embeddings`: the cosine similarity of the text's embedding to each label's (the
  label put in a sentence), through a softmax at a measured temperature.

A model whose registry entry says it reads no Chinese (the default MiniLM) is given
Chinese texts and labels as English word glosses (knowledge/glossary.py).
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelmint.core.errors import InvalidRequestError
from modelmint.core.types import Usage
from modelmint.knowledge.evidence import language_of
from modelmint.knowledge.glossary import Glossary
from modelmint.runtime.engine import Engine, GenerationRequest, SamplingParams
from modelmint.runtime.registry import ModelSpec
from modelmint.services.access import check_model_allowed
from modelmint.services.chat import ChatRun
from modelmint.services.context import Estimate, RequestContext, Used
from modelmint.services.metering import Metering
from modelmint.services.models import Models
from modelmint.services.privacy import RequestPrivacy
from modelmint.services.schemas import ChatCompletionRequest
from modelmint.services.task_schemas import ClassifyRequest

TOP_LOGPROBS = 200  # the answer's first token: where each label's first tokens are found
# measured with benchmarks/classify.py on the default models (SmolLM2-135M, MiniLM-L6),
# Chinese (glossed)/English accuracy: embeddings 0.62/0.78 on sentiment, 0.60/0.65 on
# tickets; chat 0.55/0.58 and 0.54/0.27. A larger multilingual chat model upstream, named
# by `model` with method "chat", is the way to better zero-shot labels
AUTO_METHOD = "embeddings"
CHAT_TEMPERATURE = 1.0
CONTENT_FREE = "N/A"
EMBEDDING_TEMPERATURE = 0.05
LABEL_SENTENCE = "This text is about {label}."
INSTRUCTIONS = (
    "Classify the text. Reply with the number of the one label that fits it best, and nothing else."
)


@dataclass(frozen=True, slots=True)
class Scored:
    scores: list[list[float]]  # per input, per label; each row sums to 1
    usage: Usage
    model: str


class Classify:
    def __init__(
        self,
        models: Models,
        metering: Metering,
        chat_model: str,
        embeddings_model: str,
        glossary: Glossary,
    ) -> None:
        self.models = models
        self.metering = metering
        self.chat_model = chat_model
        self.embeddings_model = embeddings_model
        self.glossary = glossary

    async def classify(self, context: RequestContext, body: ClassifyRequest) -> dict[str, Any]:
        if body.labels is None:
            raise InvalidRequestError(
                f"{body.model!r} is not a trained text classifier here; pass `labels` to "
                "classify zero-shot with them.",
                param="model",
            )
        labels = [label.strip() for label in body.labels]
        method = AUTO_METHOD if body.method == "auto" else body.method
        privacy = RequestPrivacy(context.account.policy)
        texts = privacy.redacted(body.inputs(), param="input")
        default = self.chat_model if method == "chat" else self.embeddings_model
        spec, engine = await self.models.get(context.account, body.model or default)
        check_model_allowed(context.account.principal, spec)
        shown = await self._readable(spec, labels)
        texts = await self._readable(spec, texts)
        if method == "chat":
            scored = await self._by_chat(context, spec, engine, texts, shown)
        else:
            scored = await self._by_embeddings(context, spec, engine, texts, shown)
        return {
            "object": "list",
            "model": scored.model,
            "data": [
                {
                    "index": i,
                    "label": labels[int(np.argmax(row))],
                    "scores": sorted(
                        (
                            {"label": label, "score": round(score, 6)}
                            for label, score in zip(labels, row, strict=True)
                        ),
                        key=lambda s: -s["score"],
                    ),
                }
                for i, row in enumerate(scored.scores)
            ],
            "usage": scored.usage.to_dict(),
        }

    async def _readable(self, spec: ModelSpec, texts: list[str]) -> list[str]:
        """The texts as the model can read them: Chinese glossed into English words for
        a model that reads no Chinese."""
        if not spec.languages or "zh" in spec.languages:
            return texts
        if not any(language_of(text) == "zh" for text in texts):
            return texts
        return await asyncio.to_thread(lambda: [self.glossary.gloss(t) for t in texts])

    async def _by_chat(
        self,
        context: RequestContext,
        spec: ModelSpec,
        engine: Engine,
        texts: list[str],
        labels: list[str],
    ) -> Scored:
        """Each text's probability of each label as the chat model's first answer token,
        calibrated by a last row for the content-free text (the model's bias)."""
        params = SamplingParams(
            max_tokens=1, temperature=0.0, logprobs=True, top_logprobs=TOP_LOGPROBS
        )
        requests = [
            GenerationRequest(
                params, messages=_question(text, labels), request_id=context.request_id
            )
            for text in [*texts, CONTENT_FREE]
        ]
        shape = ChatCompletionRequest.model_validate(
            {"model": spec.name, "messages": requests[0].messages, "max_tokens": 1,
             "logprobs": True, "top_logprobs": 20}
        )  # fmt: skip
        run = await ChatRun.open(
            self.metering,
            engine,
            spec,
            context.using(spec.name),
            shape,
            requests,
            RequestPrivacy(context.account.policy),
        )
        chat = await run.respond()
        rows = np.array([_label_probabilities(choice, labels) for choice in chat["choices"]])
        return Scored(calibrated(rows[: len(texts)], rows[-1]), run.usage, spec.name)

    async def _by_embeddings(
        self,
        context: RequestContext,
        spec: ModelSpec,
        engine: Engine,
        texts: list[str],
        labels: list[str],
    ) -> Scored:
        sentences = [LABEL_SENTENCE.format(label=_shown(label)) for label in labels]
        everything = sentences + texts
        lengths = await engine.count(everything)
        ticket = await self.metering.admit(context.using(spec.name), Estimate(sum(lengths)))
        used = Used()
        async with self.metering.metered(ticket, lambda: used):
            result = await engine.embed(everything, lengths)
            used = Used(Usage(result.prompt_tokens, 0))
        vectors = np.asarray(result.vectors, dtype=np.float32)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        similarity = vectors[len(labels) :] @ vectors[: len(labels)].T
        logits = similarity / EMBEDDING_TEMPERATURE
        logits -= logits.max(axis=1, keepdims=True)
        weights = np.exp(logits)
        scores = weights / weights.sum(axis=1, keepdims=True)
        return Scored(scores.tolist(), used.usage, spec.name)


def calibrated(probabilities: np.ndarray, prior: np.ndarray) -> list[list[float]]:
    """Scores from the model's label probabilities: divided by what it says to no text
    at all (it favours some labels whatever it reads), renormalised, and sharpened by
    the temperature that fits the labelled sets best."""
    ratio = probabilities / np.maximum(prior, 1e-9)
    logits = np.log(np.maximum(ratio, 1e-12)) / CHAT_TEMPERATURE
    logits -= logits.max(axis=1, keepdims=True)
    weights = np.exp(logits)
    return (weights / weights.sum(axis=1, keepdims=True)).tolist()


def _shown(label: str) -> str:
    return label.replace("_", " ")


def _question(text: str, labels: list[str]) -> list[dict[str, str]]:
    options = ", ".join(_shown(label) for label in labels)
    return [
        {"role": "system", "content": INSTRUCTIONS},
        {"role": "user", "content": f"Text: {text}\n\nLabels: {options}\n\nLabel:"},
    ]


def _label_probabilities(choice: dict[str, Any], labels: list[str]) -> list[float]:
    """The probability of each label being the answer: of the first tokens that begin
    it (and no other label), summed; a label none of them begins gets a floor below the
    least likely token seen."""
    content = (choice.get("logprobs") or {}).get("content") or []
    top = content[0]["top_logprobs"] if content else []
    names = [_shown(label).lower() for label in labels]
    found = [0.0] * len(labels)
    floor = math.exp(min((e["logprob"] for e in top), default=-20.0)) / 2
    for entry in top:
        piece = entry["token"].strip().lower()
        if len(piece) < 2 and piece not in names:
            continue
        owners = [i for i, name in enumerate(names) if piece and name.startswith(piece)]
        if len(owners) == 1:
            found[owners[0]] += math.exp(entry["logprob"])
    total = sum(max(f, floor) for f in found)
    return [max(f, floor) / total for f in found]
