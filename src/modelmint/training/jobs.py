"""What a fine-tuning job asks for and what it is called: hyperparameters as OpenAI takes
them (`method.supervised.hyperparameters`, or the legacy top-level `hyperparameters`),
resolved into the LoRA recipe's or the text classifier's settings (and, once a job runs,
shown as resolved, as OpenAI shows them), and the name of the model a job makes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from modelmint.training.recipes.lora import LoraSettings, auto_epochs
from modelmint.training.recipes.text_classifier import HeadSettings

AUTO = "auto"
LIMITS = {"n_epochs": (1, 50), "batch_size": (1, 256), "learning_rate_multiplier": (0.01, 10.0)}
SUFFIX_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class HyperparameterError(ValueError):
    def __init__(self, message: str, param: str) -> None:
        super().__init__(message)
        self.param = param


@dataclass(frozen=True, slots=True)
class Hyperparameters:
    """As the caller gave them: a number, or "auto" for the recipe's choice."""

    n_epochs: int | str = AUTO
    batch_size: int | str = AUTO
    learning_rate_multiplier: float | str = AUTO

    @classmethod
    def parse(cls, given: dict[str, Any] | None, where: str) -> Hyperparameters:
        given = given or {}
        unknown = sorted(set(given) - set(LIMITS))
        if unknown:
            raise HyperparameterError(
                f"{where}.{unknown[0]} is not a hyperparameter of supervised fine-tuning; "
                f"use {', '.join(LIMITS)}.",
                param=f"{where}.{unknown[0]}",
            )
        values = {name: _checked(name, given.get(name, AUTO), where) for name in LIMITS}
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        return {
            "n_epochs": self.n_epochs,
            "batch_size": self.batch_size,
            "learning_rate_multiplier": self.learning_rate_multiplier,
        }

    def resolved(self, examples: int, seed: int) -> LoraSettings:
        """The recipe's settings for `examples` training examples."""
        base = LoraSettings()
        epochs = auto_epochs(examples) if self.n_epochs == AUTO else int(self.n_epochs)
        batch = base.batch_size if self.batch_size == AUTO else int(self.batch_size)
        multiplier = (
            1.0 if self.learning_rate_multiplier == AUTO else float(self.learning_rate_multiplier)
        )
        return LoraSettings(
            n_epochs=epochs,
            batch_size=min(batch, examples),
            learning_rate=base.learning_rate * multiplier,
            seed=seed,
        )

    def for_classifier(self, examples: int, seed: int) -> HeadSettings:
        """The text classifier's settings for `examples` training texts."""
        return HeadSettings.chosen(
            examples,
            None if self.n_epochs == AUTO else int(self.n_epochs),
            None if self.batch_size == AUTO else int(self.batch_size),
            None if self.learning_rate_multiplier == AUTO else float(self.learning_rate_multiplier),
            seed,
        )

    def filled(self, n_epochs: int, batch_size: int) -> dict[str, Any]:
        """As `as_dict`, with what the recipe chose in place of each "auto"."""
        multiplier = self.learning_rate_multiplier
        return {
            "n_epochs": n_epochs,
            "batch_size": batch_size,
            "learning_rate_multiplier": 1.0 if multiplier == AUTO else multiplier,
        }


def _checked(name: str, value: Any, where: str) -> int | float | str:
    if value == AUTO:
        return AUTO
    low, high = LIMITS[name]
    integer = name != "learning_rate_multiplier"
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not low <= value <= high:
        kind = "an integer" if integer else "a number"
        raise HyperparameterError(
            f'{where}.{name} must be "auto" or {kind} from {low} to {high}; got {value!r}.',
            param=f"{where}.{name}",
        )
    return value


def method_of(hyperparameters: Hyperparameters) -> dict[str, Any]:
    """OpenAI's `method` object of a supervised job."""
    return {"type": "supervised", "supervised": {"hyperparameters": hyperparameters.as_dict()}}


def fine_tuned_name(base: str, org_name: str, suffix: str | None, job_id: str) -> str:
    """`ft:{base}:{org}:{suffix}:{id}`, as OpenAI names fine-tuned models (the id part is
    the job id without its prefix)."""
    org = re.sub(r"[^a-z0-9-]+", "-", org_name.lower()).strip("-") or "org"
    return f"ft:{base}:{org}:{suffix or ''}:{job_id.rsplit('-', 1)[-1]}"


def check_suffix(suffix: str | None) -> None:
    if suffix is not None and not SUFFIX_RE.match(suffix):
        raise HyperparameterError(
            "suffix must be 1 to 64 letters, digits, '.', '_' or '-'.", param="suffix"
        )
