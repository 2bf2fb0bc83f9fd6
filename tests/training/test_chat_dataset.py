"""Fine-tune files are read line by line; every problem names its line and field."""

from __future__ import annotations

import json

import pytest

from modelmint.training.chat_dataset import DatasetError, read_chat_dataset


def words(messages) -> int:
    """A stand-in tokenizer: a token per word, and four per message of framing."""
    return sum(len(m["content"].split()) + 4 for m in messages)


def line(*turns, **extra) -> bytes:
    """One example: turns are (role, content) or (role, content, {more fields})."""
    messages = [{"role": t[0], "content": t[1], **(t[2] if len(t) > 2 else {})} for t in turns]
    return json.dumps({"messages": messages, **extra}).encode()


GOOD = line(("system", "Be brief."), ("user", "Capital of France?"), ("assistant", "Paris."))


def read(lines, context=4096):
    return read_chat_dataset(lines, words, context)


def test_a_good_file_is_read_with_its_token_counts():
    dataset = read([GOOD] * 12 + [b"", b"  "])
    assert len(dataset.examples) == 12 and dataset.examples[0].line == 1
    assert dataset.examples[0].tokens == 2 + 3 + 1 + 12
    assert dataset.tokens == 12 * 18
    assert all(m["weight"] == 1 for m in dataset.examples[0].messages)


def test_weights_on_assistant_turns():
    weighted = line(("user", "a"), ("assistant", "b", {"weight": 0}), ("user", "c"),
                    ("assistant", "d", {"weight": 1}))  # fmt: skip
    (example, *_) = read([weighted] * 10).examples
    assert [m["weight"] for m in example.messages] == [1, 0, 1, 1]


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        (b"{not json", "line 3: not valid JSON"),
        (b'{"prompt": "x", "completion": "y"}', 'line 3: expected an object with a "messages"'),
        (line(("user", "hi"), ("robot", "x")), "line 3: messages[1].role: must be one of"),
        (line(("user", "hi"), ("assistant", "")), "line 3: messages[1].content: must be"),
        (line(("user", "hi"), ("assistant", "x", {"weight": 2})), "messages[1].weight: must be"),
        (line(("user", "hi"), ("assistant", "x", {"weight": True})), "messages[1].weight"),
        (line(("user", "hi", {"weight": 0}), ("assistant", "x")), "messages[0].weight: only"),
        (line(("user", "hi"), ("assistant", "x", {"weight": 0})), "no assistant turn to train"),
        (line(("user", "hi"), ("assistant", "x"), ("user", "y", {"tool_calls": []})),
         "messages[2].tool_calls: not a field"),
        (line(("user", "hi"), ("assistant", "x"), seed=1), "unknown field 'seed'"),
        (line(("user", "word " * 5000), ("assistant", "x")), "line 3: the example has 5009 tokens"),
    ],
)  # fmt: skip
def test_each_problem_names_its_line_and_field(bad, says):
    with pytest.raises(DatasetError) as refused:
        read([GOOD, GOOD, bad] + [GOOD] * 10)
    assert says in str(refused.value)
    assert len(refused.value.problems) == 1


def test_too_few_examples():
    with pytest.raises(DatasetError, match="has 9 examples; fine-tuning needs at least 10"):
        read([GOOD] * 9)


def test_many_problems_are_reported_together_and_then_cut_short():
    with pytest.raises(DatasetError) as refused:
        read([b"{"] * 50)
    problems = refused.value.problems
    assert problems[0].startswith("line 1:") and problems[19].startswith("line 20:")
    assert problems[-1] == "(stopped after 20 problems)"
