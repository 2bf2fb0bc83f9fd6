"""A text classifier on an embeddings model: the model stays as it is, and a softmax
layer (multinomial logistic regression with an L2 penalty) is fit on its unit vectors of
the training texts.

One readable loop of full-batch gradient descent: on a few thousand vectors of a few
hundred dimensions each step is a pair of matrix products, so a thousand steps take a
second or two on a laptop, and the result does not depend on batch order. The step size
halves whenever the loss rises. The settings
were measured with benchmarks/classify_trained.py (MiniLM, 64 tickets in 6 topics or
2,000 Chinese reviews): a penalty of 1e-3 fit both; 1e-2 collapsed the reviews onto one
label.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from modelmint.runtime.linear_head import LinearHead, softmax


@dataclass(frozen=True, slots=True)
class HeadSettings:
    steps: int = 1000
    # the first step size; halved whenever the loss rises, so vectors that all point much
    # the same way (texts written from one template) cannot make the descent diverge
    learning_rate: float = 4.0
    l2: float = 1e-3
    report_every: int = 100
    check_every: int = 10  # steps between looks at a cancel and at the server's needs


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
    for step in range(1, settings.steps + 1):
        probabilities = softmax(x @ weights + bias)
        loss = _loss(probabilities, targets)
        if loss > last_loss:
            rate /= 2
        last_loss = loss
        error = (probabilities - truth) / len(x)
        weights -= rate * (x.T @ error + settings.l2 * weights)
        bias -= rate * error.sum(axis=0)
        if step % settings.check_every == 0:
            if stopping():
                return None
            pause()
        if step % settings.report_every == 0 or step == settings.steps:
            progress(_measured(step, settings.steps, probabilities, targets))
    return LinearHead(list(labels), weights, bias)


def _loss(probabilities: np.ndarray, targets: np.ndarray) -> float:
    picked = probabilities[np.arange(len(targets)), targets]
    return float(-np.log(np.maximum(picked, 1e-12)).mean())


def _measured(step: int, total: int, probabilities: np.ndarray, targets: np.ndarray):
    accuracy = float((probabilities.argmax(axis=1) == targets).mean())
    return HeadProgress(step, total, _loss(probabilities, targets), accuracy)
