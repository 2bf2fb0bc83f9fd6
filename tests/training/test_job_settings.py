"""What a job asks for, resolved: hyperparameters ("auto" or numbers, with limits that
name the field), the fine-tuned model's name, the conversation as the server shows it,
and personal data redacted from training data under the org's policy."""

from __future__ import annotations

import pytest

from modelmint.training.chat_dataset import ChatDataset, Example
from modelmint.training.fine_tune import Redactor, served
from modelmint.training.jobs import (
    HyperparameterError,
    Hyperparameters,
    fine_tuned_name,
    method_of,
)


def test_auto_takes_the_recipes_choices_and_numbers_are_kept():
    auto = Hyperparameters.parse(None, "hyperparameters")
    settings = auto.resolved(examples=48, seed=3)
    assert (settings.n_epochs, settings.batch_size, settings.learning_rate) == (5, 8, 2e-3)
    given = Hyperparameters.parse(
        {"n_epochs": 2, "batch_size": 4, "learning_rate_multiplier": 0.5}, "hyperparameters"
    )
    settings = given.resolved(examples=48, seed=3)
    assert (settings.n_epochs, settings.batch_size, settings.learning_rate, settings.seed) == (
        2, 4, 1e-3, 3
    )  # fmt: skip
    assert Hyperparameters.parse({"batch_size": 64}, "h").resolved(10, 0).batch_size == 10
    assert method_of(given)["supervised"]["hyperparameters"]["n_epochs"] == 2


@pytest.mark.parametrize(
    ("given", "param"),
    [
        ({"n_epochs": 0}, "h.n_epochs"),
        ({"n_epochs": 2.5}, "h.n_epochs"),
        ({"n_epochs": True}, "h.n_epochs"),
        ({"batch_size": "big"}, "h.batch_size"),
        ({"learning_rate_multiplier": 100}, "h.learning_rate_multiplier"),
        ({"warmup": 3}, "h.warmup"),
    ],
)
def test_bad_hyperparameters_name_their_field(given, param):
    with pytest.raises(HyperparameterError) as caught:
        Hyperparameters.parse(given, "h")
    assert caught.value.param == param


def test_the_fine_tuned_models_name_is_openais_pattern():
    name = fine_tuned_name("smollm2-135m-instruct", "Acme Corp.", "facts", "ftjob-abc123")
    assert name == "ft:smollm2-135m-instruct:acme-corp:facts:abc123"
    assert fine_tuned_name("m", "数据", None, "ftjob-x") == "ft:m:org::x"


def test_training_sees_the_system_prompt_serving_adds():
    chat = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
    assert served(chat, "Be brief.")[0] == {"role": "system", "content": "Be brief."}
    own = [{"role": "system", "content": "Mine."}, *chat]
    assert served(own, "Be brief.") == own and served(chat, None) == chat


def test_personal_data_is_redacted_from_training_data_unless_the_policy_is_off():
    message = {"role": "user", "content": "Mail alice@example.com or call 13812345678", "weight": 1}
    answer = {"role": "assistant", "content": "Done.", "weight": 1}
    data = ChatDataset([Example(1, [message, answer], 20)])
    redactor = Redactor("redact_storage")
    redacted = redactor.dataset(data).examples[0].messages[0]["content"]
    assert "alice@example.com" not in redacted and "13812345678" not in redacted
    assert "<EMAIL_1>" in redacted and redactor.replaced == 1
    assert not Redactor("off").enabled
