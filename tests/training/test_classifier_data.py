"""A classifier job's examples: texts and labels read from chat files, labels checked, and
every tenth example of each label held out."""

from __future__ import annotations

import json

import pytest

from modelmint.training import classifier_data
from modelmint.training.chat_dataset import DatasetError
from modelmint.training.classifier_data import Labelled, check_labels, held_out, read_labelled


def lines(*pairs: tuple[str, str]) -> list[bytes]:
    return [
        json.dumps({"messages": [{"role": "system", "content": "Classify."},
                                 {"role": "user", "content": text},
                                 {"role": "assistant", "content": label}]}).encode()
        for text, label in pairs
    ]  # fmt: skip


def test_user_turns_are_the_text_and_the_last_assistant_turn_the_label():
    data = read_labelled(lines(*[(f"text {i}", "  late \n parcel ") for i in range(10)]))
    assert data.texts[0] == "text 0" and data.labels[0] == "late parcel"


def test_labels_that_differ_only_in_case_are_refused_and_one_label_is_not_enough():
    with pytest.raises(DatasetError, match="differ only in case"):
        check_labels(Labelled(["a", "b", "c"], ["Shipping", "shipping", "billing"]))
    with pytest.raises(DatasetError, match="1 distinct labels"):
        check_labels(Labelled(["a", "b"], ["billing", "billing"]))
    check_labels(Labelled(["a", "b"], ["billing", "shipping"]))


def test_a_long_label_or_a_large_file_is_refused_naming_the_limit(monkeypatch):
    with pytest.raises(DatasetError, match="line 3: the label"):
        read_labelled(lines(*[("t", "x")] * 2, ("t", "y" * 201), *[("t", "x")] * 9))
    monkeypatch.setattr(classifier_data, "MAX_EXAMPLES", 10)
    with pytest.raises(DatasetError, match="reads up to 10"):
        read_labelled(lines(*[("t", "x")] * 11))


def test_every_tenth_example_of_each_label_is_held_out():
    # sorted by label, and one label rare: each label is measured, none is lost
    labels = ["a"] * 30 + ["b"] * 20 + ["rare"] * 3
    kept, held = held_out(Labelled([str(i) for i in range(len(labels))], labels))
    assert held.labels == ["a"] * 3 + ["b"] * 2
    assert set(kept.labels) == {"a", "b", "rare"} and len(kept) + len(held) == len(labels)
    assert not set(kept.texts) & set(held.texts)
