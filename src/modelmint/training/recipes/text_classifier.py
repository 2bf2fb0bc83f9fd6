"""A text classifier on an embeddings model: the model stays as it is, and a softmax
layer (multinomial logistic regression with an L2 penalty) is fit on its unit vectors of
the training texts.

One readable loop of gradient descent, full-batch unless a job asks for batches: on a
few thousand vectors of a few hundred dimensions each step is a pair of matrix products,
so a thousand steps take a second or two on a laptop, and the full-batch result does not
depend on batch order. The step size halves whenever an epoch ends with a higher loss
than the last. The settings were measured with benchmarks/classify_trained.py (MiniLM, 64
tickets in 6 topics or 2,000 Chinese reviews): 1,000 full-batch steps and a penalty of
1e-3 fit both; 1e-2 collapsed the reviews onto one label.

A job's hyperparameters mean what they say: `batch_size` vectors a step, `n_epochs`
passes over them, the step size times `learning_rate_multiplier`; "auto" is the measured
recipe (the whole set a step, 1,000 passes), and `n_epochs` alone gets batches small
enough for about 1,000 steps in all (a few full-batch steps would barely fit).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from modelmint.runtime.linear_head import LinearHead, softmax

AUTO_STEPS = 1000
BASE_LEARNING_RATE = 4.0
REPORTS = 10  # a fit of many small steps reports this often, not every `report_every`


@dataclass(frozen=True, slots=True)
class HeadSettings:
    epochs: int = AUTO_STEPS
    batch_size: int | None = None  # vectors a step; None: all of them
    # the first step size; halved whenever an epoch's loss rises, so vectors that all
    # point much the same way (texts written from one template) cannot make it diverge
    learning_rate: float = BASE_LEARNING_RATE
    l2: float = 1e-3
    seed: int = 0  # the order of the batches
    report_every: int = 100  # steps between metrics events; at most REPORTS of them a fit
    check_every: int = 10  # steps between looks at a cancel and at the server's needs

    @classmethod
    def chosen(
        cls,
        examples: int,
        n_epochs: int | None,
        batch_size: int | None,
        learning_rate_multiplier: float | None,
        seed: int = 0,
    ) -> HeadSettings:
        """A job's settings for `examples` texts: each None is the measured recipe's,
        except that `n_epochs` given alone gets batches that make about as many steps."""
        if batch_size is None and n_epochs is not None:
            batch_size = max(1, math.ceil(examples * n_epochs / AUTO_STEPS))
        batch = None if batch_size is None or batch_size >= examples else batch_size
        per_epoch = math.ceil(examples / batch) if batch else 1
        return cls(
            epochs=n_epochs or math.ceil(AUTO_STEPS / per_epoch),
            batch_size=batch,
            learning_rate=BASE_LEARNING_RATE * (learning_rate_multiplier or 1.0),
            seed=seed,
        )

    def steps_per_epoch(self, examples: int) -> int:
        return math.ceil(examples / self.batch_size) if self.batch_size else 1


@dataclass(frozen=True, slots=True)
class HeadProgress:
    step: int
    total_steps: int
    loss: float  # mean cross-entropy on the training vectors, penalty excluded
    accuracy: float  # on the training vectors


def fit_head(
    vectors: np.ndarray,
    targets: np.ndarray,
    labels: list[str],
    settings: HeadSettings = HeadSettings(),
    progress: Callable[[HeadProgress], None] = lambda _: None,
    stopping: Callable[[], bool] = lambda: False,
    pause: Callable[[], None] = lambda: None,
) -> LinearHead | None:
    """The head that maps `vectors` to `targets` (indexes into `labels`); None when
    `stopping()` said to stop. `pause()` is called between steps now and then (a worker
    beside a server waits there while the server is busy)."""
    x = np.asarray(vectors, dtype=np.float32)
    truth = np.eye(len(labels), dtype=np.float32)[targets]
    weights = np.zeros((x.shape[1], len(labels)), dtype=np.float32)
    bias = np.log(truth.mean(axis=0) + 1e-9)  # start from the labels' frequencies
    rate, last_loss = settings.learning_rate, np.inf
    per_epoch = settings.steps_per_epoch(len(x))
    total = settings.epochs * per_epoch
    report_every = max(settings.report_every, total // REPORTS)
    order, shuffler = np.arange(len(x)), np.random.default_rng(settings.seed)
    for step in range(1, total + 1):
        place = (step - 1) % per_epoch
        if place == 0:  # an epoch begins: how the last one left the loss
            everything = softmax(x @ weights + bias)
            loss = _loss(everything, targets)
            if loss > last_loss:
                rate /= 2
            last_loss = loss
            if per_epoch > 1:
                shuffler.shuffle(order)
        if per_epoch == 1:
            batch, wanted, probabilities = x, truth, everything
        else:
            size = settings.batch_size or len(x)
            rows = order[place * size : (place + 1) * size]
            batch, wanted = x[rows], truth[rows]
            probabilities = softmax(batch @ weights + bias)
        error = (probabilities - wanted) / len(batch)
        weights -= rate * (batch.T @ error + settings.l2 * weights)
        bias -= rate * error.sum(axis=0)
        if step % settings.check_every == 0:
            if stopping():
                return None
            pause()
        if step % report_every == 0 or step == total:
            seen = everything if per_epoch == 1 else softmax(x @ weights + bias)
            progress(_measured(step, total, seen, targets))
    return LinearHead(list(labels), weights, bias)


def _loss(probabilities: np.ndarray, targets: np.ndarray) -> float:
    picked = probabilities[np.arange(len(targets)), targets]
    return float(-np.log(np.maximum(picked, 1e-12)).mean())


def _measured(step: int, total: int, probabilities: np.ndarray, targets: np.ndarray):
    accuracy = float((probabilities.argmax(axis=1) == targets).mean())
    return HeadProgress(step, total, _loss(probabilities, targets), accuracy)
