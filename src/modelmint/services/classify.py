"""`POST /v1/classify`: each input's label among the caller's labels, zero-shot, with a
score per label (they sum to 1), on the metered path.

Four ways to score the labels, chosen per request by `method`:
- `chat`: the chat model reads the text and the labels and answers with one; the
  probabilities of its first token beginning each label, asked with the labels in their
  order and reversed, divided by those it gives content-free texts (its bias) and
  renormalised, are the scores (all prompts run as one batched request, one ledger row;
  the content-free answers are kept per org, judge and labels: services/judge_bias.py);
- `embeddings`: the cosine similarity of the text's embedding to each label's (the
  label put in a sentence), through a softmax at a measured temperature;
- `both` (what `auto` takes): the product of the two, renormalised; each model's run is
  metered under its own name;
- `likelihood`: the language model's probability of the text after "The following text
  is about {label}:" (noisy-channel scoring, Min et al. 2022), one scored prompt per text
  and label, through Bayes' rule with equal priors (llama.cpp and transformers models,
  which score prompts).

The chat judge is the model a request names, else the registry entry with the alias
`classify` (the default registry's Qwen2.5-Coder-1.5B), else the default chat model.

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

from modelmint.core.errors import (
    ContextLengthExceededError,
    InvalidRequestError,
    ModelNotFoundError,
    UnsupportedParameterError,
)
from modelmint.core.types import Principal, Usage
from modelmint.knowledge.evidence import language_of
from modelmint.knowledge.glossary import Glossary
from modelmint.runtime.engine import Engine, GenerationRequest, SamplingParams, TokenLogprob
from modelmint.runtime.linear_head import LinearHead
from modelmint.runtime.registry import ModelSpec
from modelmint.services.access import check_model_allowed, model_allowed
from modelmint.services.chat import ChatRun
from modelmint.services.completions import PromptScoring
from modelmint.services.context import Estimate, RequestContext, Used
from modelmint.services.generation import GenerationRun
from modelmint.services.judge_bias import JudgeBias
from modelmint.services.metering import Metering
from modelmint.services.models import Models
from modelmint.services.privacy import RequestPrivacy
from modelmint.services.schemas import ChatCompletionRequest, CompletionRequest
from modelmint.services.task_schemas import ClassifyRequest

# the answer's first token: where each label's first tokens are found (20: what
# OpenAI-compatible servers allow, OpenAI's and vLLM's cap; more adds noise)
TOP_LOGPROBS = 20
JUDGE_MODEL = "classify"  # the registry alias of the chat model that judges labels
# measured with benchmarks/classify.py, Chinese/English accuracy on sentiment and tickets:
# both (Qwen2.5-Coder-1.5B x MiniLM) 1.00/0.97 and 0.83/0.85; chat alone 1.00/0.98 and
# 0.81/0.92; embeddings alone (MiniLM, Chinese glossed) 0.62/0.78 and 0.60/0.65
AUTO_METHOD = "both"
# texts that say nothing: what the judge answers to them is its bias (their mean, as in
# Zhao et al. 2021, "Calibrate Before Use")
CONTENT_FREE = ("N/A", "", "[MASK]")
EMBEDDING_TEMPERATURE = 0.05
LABEL_SENTENCE = "This text is about {label}."
CHANNEL_PREFIX = "The following text is about {label}:\n"
# texts x labels, each a prompt the model reads (`parallel` at a time): about 30 s of
# SmolLM2 on two cores
MAX_LIKELIHOOD_PROMPTS = 200
INSTRUCTIONS = (
    "Classify the text into one of the labels. Reply with the label only, exactly as written."
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
        self.bias = JudgeBias()

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
        rows = []
        # the cheap embeddings before the judge: a request its limits refuse then has
        # spent only those
        for judge, method in reversed(await self._judges(context, body)):
            scorer = {
                "chat": self._by_chat,
                "likelihood": self._by_likelihood,
                "embeddings": self._by_embeddings,
            }[method]
            shown = await self._readable(judge.spec, labels)
            rows.insert(0, await scorer(judge, await self._readable(judge.spec, texts), shown))
        return _answer(labels, _product(rows), rows[0].model)

    async def _judges(
        self, context: RequestContext, body: ClassifyRequest
    ) -> list[tuple[Judge, str]]:
        """Each model that scores the labels, with how it scores them; the first names
        the answer's model."""
        account = context.account
        method = AUTO_METHOD if body.method == "auto" else body.method
        named = await self.models.usable(account, body.model) if body.model else None
        if named and named[0].engine == "embeddings" and method != "embeddings":
            if body.method != "auto":
                raise InvalidRequestError(
                    f"method {method} needs a chat model to judge; {body.model!r} is an "
                    "embeddings model. Use method embeddings, or name a chat model.",
                    param="model",
                )
            method = "embeddings"  # an embeddings model named: it judges alone
        judge = named
        if judge is None and method != "embeddings":
            spec = self._default_judge(account.principal, strict=body.method != "auto")
            if spec is None:  # auto, and this key may use no chat judge: embeddings alone
                method = "embeddings"
            else:
                judge = await self.models.get(account, spec.name)
        if method == "embeddings":
            chosen = [(judge or await self.models.usable(account, self.embeddings_model), method)]
        else:
            chosen = [(judge, "chat" if method == "both" else method)]
            if method == "both":
                embedder = await self.models.usable(account, self.embeddings_model)
                chosen.append((embedder, "embeddings"))
        return [(Judge(context, spec, engine), scoring) for (spec, engine), scoring in chosen]

    def _default_judge(self, principal: Principal, strict: bool) -> ModelSpec | None:
        """The registry's `classify` entry, else the default chat model: the first this
        key may use, checked before either is loaded (the judge loads on first use). None
        when it may use neither and the caller takes the embeddings alone instead."""
        candidates = [self.models.shipped(JUDGE_MODEL), self.models.shipped(self.chat_model)]
        found = [spec for spec in candidates if spec is not None]
        allowed = [spec for spec in found if model_allowed(principal, spec)]
        if allowed or not strict:
            return allowed[0] if allowed else None
        if found:
            check_model_allowed(principal, found[0])  # the 403 that names it
        raise ModelNotFoundError(
            "This server has no chat model to judge labels; use method embeddings.",
            param="method",
        )

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
        asked with the labels in their order and reversed (the model favours places in a
        list), and calibrated by content-free texts (the model favours some labels
        whatever it reads); all prompts run as one metered, batched request."""
        params = SamplingParams(
            max_tokens=1, temperature=0.0, logprobs=True, top_logprobs=TOP_LOGPROBS
        )
        key = (judge.context.account.org.id, judge.spec.name, tuple(labels))
        kept = self.bias.get(key)
        asked = texts if kept is not None else [*texts, *CONTENT_FREE]
        orders = [labels, labels[::-1]]
        requests = [
            GenerationRequest(
                params, messages=_question(text, order), request_id=judge.context.request_id
            )
            for order in orders
            for text in asked
        ]
        shape = ChatCompletionRequest.model_validate(
            {"model": judge.spec.name, "messages": requests[0].messages, "max_tokens": 1,
             "logprobs": True, "top_logprobs": TOP_LOGPROBS}
        )  # fmt: skip
        try:
            run = await judge.open(self.metering, ChatRun, shape, requests)
        except ContextLengthExceededError:
            raise ContextLengthExceededError(
                f"An input is longer than the judge {judge.spec.name!r} reads (its context "
                f"is {judge.spec.context_length} tokens with the labels); shorten it, or use "
                "method embeddings, which reads a long text by its first tokens.",
                param="input",
            ) from None
        choices = (await run.respond())["choices"]
        forward = np.array([_label_probabilities(c, labels) for c in choices[: len(asked)]])
        backward = np.array([_label_probabilities(c, labels[::-1]) for c in choices[len(asked) :]])
        if kept is None:
            kept = forward[len(texts) :], backward[len(texts) :]
            self.bias.keep(key, *kept)
        forward, backward = (
            np.vstack([forward[: len(texts)], kept[0]]),
            np.vstack([backward[: len(texts)], kept[1]]),
        )
        return Scored(debiased(forward, backward, len(texts)), run.usage, judge.spec.name)

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
        # a text longer than the model reads is read by its first tokens (the chat judge
        # of `both` reads it whole, up to its context)
        vectors, usage = await self._embedded(judge, sentences + texts, truncate=True)
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


def _product(rows: list[Scored]) -> Scored:
    """One judge's scores as they are; several judges' multiplied and renormalised."""
    if len(rows) == 1:
        return rows[0]
    logs = sum(np.log(np.maximum(np.array(row.scores), 1e-12)) for row in rows)
    usage = sum((row.usage for row in rows[1:]), rows[0].usage)
    return Scored(softmax(logs), usage, rows[0].model)


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


def debiased(forward: np.ndarray, backward: np.ndarray, texts: int) -> list[list[float]]:
    """Scores from the judge's label probabilities, a row per prompt: `forward` with the
    labels in their order, `backward` reversed (its columns in reversed order too); the
    first `texts` rows are the texts, the rest content-free. Each text's log-probabilities
    averaged over both orders, less the content-free rows' (the judge's bias), through a
    softmax."""
    backward = backward[:, ::-1]
    read = (np.log(forward[:texts]) + np.log(backward[:texts])) / 2
    bias = (np.log(forward[texts:].mean(axis=0)) + np.log(backward[texts:].mean(axis=0))) / 2
    return softmax(read - bias)


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
    options = "\n".join(f"- {_shown(label)}" for label in labels)
    return [
        {"role": "system", "content": INSTRUCTIONS},
        {"role": "user", "content": f"Text: {text}\n\nLabels:\n{options}\n\nLabel:"},
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
