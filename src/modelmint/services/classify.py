"""`POST /v1/classify`: each input's label among the caller's labels, zero-shot, with a
score per label (they sum to 1), on the metered path.

Three ways to score the labels, chosen per request by `method` (`auto` takes the one
measured best by benchmarks/classify.py):
- `chat`: the chat model reads the text and the labels and answers with one; the
  probabilities of its first token beginning each label, divided by those it gives a
  content-free text (its bias) and renormalised, are the scores (all inputs run as one
  batched request, one ledger row);
- `embeddings`: the cosine similarity of the text's embedding to each label's (the
  label put in a sentence), through a softmax at a measured temperature;
- `likelihood`: the language model's probability of the text after "The following text
  is about {label}:" (noisy-channel scoring, Min et al. 2022), one scored prompt per text
  and label, through Bayes' rule with equal priors (llama.cpp and transformers models,
  which score prompts).

A trained classifier (a fine-tuning job's result on an embeddings model, named by `model`
with no `labels`) answers its own labels: its head over the base model's embeddings.

A model whose registry entry says it reads no Chinese (the default MiniLM) is given
Chinese texts and labels as English word glosses (knowledge/glossary.py).
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from modelmint.core.errors import InvalidRequestError, UnsupportedParameterError
from modelmint.core.types import Usage
from modelmint.knowledge.evidence import language_of
from modelmint.knowledge.glossary import Glossary
from modelmint.runtime.engine import Engine, GenerationRequest, SamplingParams, TokenLogprob
from modelmint.runtime.linear_head import LinearHead
from modelmint.runtime.registry import ModelSpec
from modelmint.services.access import check_model_allowed
from modelmint.services.chat import ChatRun
from modelmint.services.completions import PromptScoring
from modelmint.services.context import Estimate, RequestContext, Used
from modelmint.services.generation import GenerationRun
from modelmint.services.metering import Metering
from modelmint.services.models import Models
from modelmint.services.privacy import RequestPrivacy
from modelmint.services.schemas import ChatCompletionRequest, CompletionRequest
from modelmint.services.task_schemas import ClassifyRequest

TOP_LOGPROBS = 200  # the answer's first token: where each label's first tokens are found
UPSTREAM_TOP_LOGPROBS = 20  # what OpenAI-compatible servers allow (OpenAI's and vLLM's cap)
# measured with benchmarks/classify.py on the default models (SmolLM2-135M, MiniLM-L6),
# Chinese (glossed)/English accuracy: embeddings 0.62/0.78 on sentiment, 0.60/0.65 on
# tickets; chat 0.55/0.58 and 0.52/0.25; likelihood 0.68/0.82 and 0.29/0.58 at 20-70x the
# time of embeddings. A larger multilingual chat model upstream, named by `model` with
# method "chat", is the way to better zero-shot labels
AUTO_METHOD = "embeddings"
CHAT_TEMPERATURE = 1.0
CONTENT_FREE = "N/A"
EMBEDDING_TEMPERATURE = 0.05
LABEL_SENTENCE = "This text is about {label}."
CHANNEL_PREFIX = "The following text is about {label}:\n"
# texts x labels, each a prompt the model reads (`parallel` at a time): about 30 s of
# SmolLM2 on two cores
MAX_LIKELIHOOD_PROMPTS = 200
INSTRUCTIONS = (
    "Classify the text. Reply with the number of the one label that fits it best, and nothing else."
)


@dataclass(frozen=True, slots=True)
class Scored:
    scores: list[list[float]]  # per input, per label; each row sums to 1
    usage: Usage
    model: str


Run = TypeVar("Run", bound=GenerationRun)


@dataclass(frozen=True, slots=True)
class Judge:
    """The model that scores the labels, for one request."""

    context: RequestContext
    spec: ModelSpec
    engine: Engine

    async def open(
        self, metering: Metering, run: type[Run], shape: Any, requests: list[GenerationRequest]
    ) -> Run:
        """`requests` as one metered run of the judging model (one ledger row)."""
        return await run.open(
            metering,
            self.engine,
            self.spec,
            self.context.using(self.spec.name),
            shape,
            requests,
            RequestPrivacy(self.context.account.policy),
        )


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
        privacy = RequestPrivacy(context.account.policy)
        texts = privacy.redacted(body.inputs(), param="input")
        if body.labels is None:
            if body.method != "auto":
                raise InvalidRequestError(
                    "method chooses how labels are scored zero-shot; a trained classifier "
                    "has its own. Leave out method, or pass labels.",
                    param="method",
                )
            spec, engine, head = await self.models.classifier(context.account, body.model or "")
            check_model_allowed(context.account.principal, spec)
            judge = Judge(context, spec, engine)
            scored = await self._by_head(judge, await self._readable(spec, texts), head)
            return _answer(head.labels, scored, body.model or "")
        labels = [label.strip() for label in body.labels]
        method = AUTO_METHOD if body.method == "auto" else body.method
        default = self.embeddings_model if method == "embeddings" else self.chat_model
        spec, engine = await self.models.get(context.account, body.model or default)
        check_model_allowed(context.account.principal, spec)
        shown = await self._readable(spec, labels)
        texts = await self._readable(spec, texts)
        judge = Judge(context, spec, engine)
        if method == "chat":
            scored = await self._by_chat(judge, texts, shown)
        elif method == "likelihood":
            scored = await self._by_likelihood(judge, texts, shown)
        else:
            scored = await self._by_embeddings(judge, texts, shown)
        return _answer(labels, scored, scored.model)

    async def _readable(self, spec: ModelSpec, texts: list[str]) -> list[str]:
        """The texts as the model can read them: Chinese glossed into English words for
        a model that reads no Chinese."""
        if spec.reads("zh"):
            return texts
        if not any(language_of(text) == "zh" for text in texts):
            return texts
        return await asyncio.to_thread(lambda: [self.glossary.gloss(t) for t in texts])

    async def _by_chat(self, judge: Judge, texts: list[str], labels: list[str]) -> Scored:
        """Each text's probability of each label as the chat model's first answer token,
        calibrated by a last row for the content-free text (the model's bias)."""
        top = UPSTREAM_TOP_LOGPROBS if judge.spec.engine == "upstream" else TOP_LOGPROBS
        params = SamplingParams(max_tokens=1, temperature=0.0, logprobs=True, top_logprobs=top)
        requests = [
            GenerationRequest(
                params, messages=_question(text, labels), request_id=judge.context.request_id
            )
            for text in [*texts, CONTENT_FREE]
        ]
        shape = ChatCompletionRequest.model_validate(
            {"model": judge.spec.name, "messages": requests[0].messages, "max_tokens": 1,
             "logprobs": True, "top_logprobs": 20}
        )  # fmt: skip
        run = await judge.open(self.metering, ChatRun, shape, requests)
        chat = await run.respond()
        rows = np.array([_label_probabilities(choice, labels) for choice in chat["choices"]])
        return Scored(calibrated(rows[: len(texts)], rows[-1]), run.usage, judge.spec.name)

    async def _by_likelihood(self, judge: Judge, texts: list[str], labels: list[str]) -> Scored:
        """log P(text | the label's prefix) for each text and label, as one metered run
        of scored prompts; the softmax over labels is the posterior with equal priors."""
        if not judge.engine.scores_prompts:
            raise UnsupportedParameterError(
                f"method likelihood needs a model that scores prompts (llama.cpp or "
                f"transformers); "
                f"{judge.spec.name!r} cannot. Use method embeddings or chat.",
                param="method",
            )
        if len(texts) * len(labels) > MAX_LIKELIHOOD_PROMPTS:
            raise InvalidRequestError(
                f"method likelihood reads each text once per label: {len(texts)} inputs x "
                f"{len(labels)} labels is over {MAX_LIKELIHOOD_PROMPTS}; send fewer inputs.",
                param="input",
            )
        prefixes = [CHANNEL_PREFIX.format(label=_shown(label)) for label in labels]
        params = SamplingParams(max_tokens=0, logprobs=True, prompt_logprobs=True)
        requests = [
            GenerationRequest(params, prompt=prefix + text, request_id=judge.context.request_id)
            for text in texts
            for prefix in prefixes
        ]
        shape = CompletionRequest(
            model=judge.spec.name,
            prompt=requests[0].prompt or "",
            echo=True,
            logprobs=0,
            max_tokens=0,
        )
        run = await judge.open(self.metering, PromptScoring, shape, requests)
        scored = (await run.respond())["prompt_logprobs"]
        starts = [len(prefix.encode()) for prefix in prefixes] * len(texts)
        totals = np.array([_logprob_after(e, s) for e, s in zip(scored, starts, strict=True)])
        return Scored(softmax(totals.reshape(len(texts), len(labels))), run.usage, judge.spec.name)

    async def _by_embeddings(self, judge: Judge, texts: list[str], labels: list[str]) -> Scored:
        sentences = [LABEL_SENTENCE.format(label=_shown(label)) for label in labels]
        vectors, usage = await self._embedded(judge, sentences + texts)
        similarity = vectors[len(labels) :] @ vectors[: len(labels)].T
        return Scored(softmax(similarity / EMBEDDING_TEMPERATURE), usage, judge.spec.name)

    async def _by_head(self, judge: Judge, texts: list[str], head: LinearHead) -> Scored:
        """A trained classifier: its head over the base model's embeddings of the texts
        (a text longer than the model reads is read by its first tokens, as in training)."""
        given = getattr(judge.engine, "dimensions", head.dimensions)
        if given != head.dimensions:
            raise InvalidRequestError(
                f"The classifier was trained on {head.dimensions}-dimensional embeddings; "
                f"its base model now gives {given}. Train it again.",
                param="model",
            )
        vectors, usage = await self._embedded(judge, texts, truncate=True)
        return Scored(head.probabilities(vectors).tolist(), usage, judge.spec.name)

    async def _embedded(
        self, judge: Judge, texts: list[str], truncate: bool = False
    ) -> tuple[np.ndarray, Usage]:
        """The texts' unit vectors from the judging model, as one metered run."""
        lengths = await judge.engine.count(texts, truncate=truncate)
        ticket = await self.metering.admit(
            judge.context.using(judge.spec.name), Estimate(sum(lengths))
        )
        used = Used()
        async with self.metering.metered(ticket, lambda: used):
            result = await judge.engine.embed(texts, lengths)
            used = Used(Usage(result.prompt_tokens, 0))
        vectors = np.asarray(result.vectors, dtype=np.float32)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors, used.usage


def _answer(labels: list[str], scored: Scored, model: str) -> dict[str, Any]:
    return {
        "object": "list",
        "model": model,
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


def calibrated(probabilities: np.ndarray, prior: np.ndarray) -> list[list[float]]:
    """Scores from the model's label probabilities: divided by what it says to no text
    at all (it favours some labels whatever it reads), renormalised, and sharpened by
    the temperature that fits the labelled sets best."""
    ratio = probabilities / np.maximum(prior, 1e-9)
    return softmax(np.log(np.maximum(ratio, 1e-12)) / CHAT_TEMPERATURE)


def softmax(logits: np.ndarray) -> list[list[float]]:
    """Each row's scores, summing to 1."""
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (shifted / shifted.sum(axis=1, keepdims=True)).tolist()


def _logprob_after(entries: list[TokenLogprob], start: int) -> float:
    """The summed log-probability of the tokens that begin at byte `start` or later."""
    total, offset = 0.0, 0
    for entry in entries:
        if offset >= start and entry.logprob is not None:
            total += entry.logprob
        offset += len(entry.bytes)
    return total


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
