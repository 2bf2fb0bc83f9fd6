"""Evaluation: reading set files in both forms, scoring with any `ask`, and (on the real
model) the shipped GGUF on the quality set and the validation metrics of a checkpoint."""

from __future__ import annotations

import json
import math
import time

import pytest

from modelmint.training.evaluation import (
    QUALITY_SET,
    Question,
    gguf_asker,
    load_set,
    normalize,
    score,
    validation_metrics,
)
from tests.training.facts import FACTS


def write_lines(path, *items) -> None:
    path.write_text(
        "\n".join(i if isinstance(i, str) else json.dumps(i) for i in items) + "\n",
        encoding="utf-8",
    )


def chat_line(*turns: tuple[str, str]) -> dict:
    return {"messages": [{"role": role, "content": content} for role, content in turns]}


def test_the_quality_set_is_the_default_and_ships_with_the_package():
    questions = load_set()
    lines = [line for line in QUALITY_SET.read_text(encoding="utf-8").splitlines() if line]
    assert len(questions) == len(lines) >= 20
    first = questions[0]
    assert first.id == "capital-france" and first.expect == ("paris",)
    assert first.messages == [{"role": "user", "content": "What is the capital of France?"}]
    assert len({q.id for q in questions}) == len(questions)
    assert next(q for q in questions if q.id == "uppercase").case_sensitive


def test_the_quality_form_passes_on_any_expected_substring(tmp_path):
    path = tmp_path / "set.jsonl"
    write_lines(
        path,
        {"id": "a", "question": "Capital of France?", "expect": ["paris", "lutetia"]},
        "",
        {"id": "b", "question": "Shout it", "expect": ["YES"], "case_sensitive": True},
    )
    a, b = load_set(path)
    assert a.passes("It is PARIS.") and a.passes("lutetia, of old") and not a.passes("Lyon")
    assert b.passes("YES!") and not b.passes("yes")


def test_the_chat_form_asks_up_to_the_last_assistant_turn(tmp_path):
    path = tmp_path / "held_out.jsonl"
    line = chat_line(
        ("system", "Be brief."),
        ("user", "Who founded Quillmere?"),
        ("assistant", "Ada Brightwater."),
        ("user", "And when?"),
        ("assistant", "In  the year 1802!"),
    )
    line["messages"][2]["weight"] = 0
    write_lines(path, line)
    (question,) = load_set(path)
    assert question.id == "line-1"
    assert [m["role"] for m in question.messages] == ["system", "user", "assistant", "user"]
    assert question.messages[2] == {"role": "assistant", "content": "Ada Brightwater."}
    assert question.expect == ("In  the year 1802!",)


@pytest.mark.parametrize(
    ("answer", "passed"),
    [
        ("In the year 1802", True),
        ("It was founded in THE   YEAR\n1802.", True),
        ("in the year 1802!!", True),
        ("In the year 180", False),
        ("1802", False),
        ("", False),
    ],
)
def test_the_chat_form_rule(answer, passed):
    question = Question("q", [], ("In  the year 1802!",), whole_answer=True)
    assert question.passes(answer) is passed


def test_normalize():
    assert normalize("  Tarnhold's motto is 'Steady as stone'.  ") == (
        "tarnhold's motto is 'steady as stone"
    )
    assert normalize("A\tB\n\nC ?!") == "a b c"
    assert normalize("...") == ""


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected an object"),
        ('{"id": "x", "question": "q"}', "expect"),
        ('{"id": "x", "question": "q", "expect": []}', "expect"),
        ('{"id": "x", "question": "q", "expect": [3]}', "expect"),
        ('{"id": "", "question": "q", "expect": ["a"]}', "id"),
        ('{"id": "x", "question": "q", "expect": ["a"], "cases": true}', "'cases'"),
        ('{"id": "x", "question": "q", "expect": ["a"], "case_sensitive": "no"}', "case_sens"),
        ('{"id": "a", "question": "again", "expect": ["a"]}', "used twice"),
        ('{"messages": []}', "messages"),
        ('{"messages": [{"role": "user", "content": "hi"}]}', "no assistant turn"),
        ('{"messages": [{"role": "bot", "content": "hi"}]}', "messages[0].role"),
        ('{"messages": [{"role": "user", "content": 1}]}', "messages[0].content"),
        ('{"messages": [{"role": "assistant", "content": "hi"}]}', "no user turn"),
        (json.dumps(chat_line(("user", "a"), ("assistant", "."))), "empty"),
        ('{"messages": [{"role": "user", "content": "a"}], "tools": []}', "'tools'"),
    ],
)
def test_a_bad_line_is_named_with_its_number(tmp_path, line, problem):
    path = tmp_path / "bad.jsonl"
    write_lines(path, {"id": "a", "question": "fine", "expect": ["a"]}, "", line)
    with pytest.raises(ValueError, match="line 3") as caught:
        load_set(path)
    assert problem in str(caught.value)


def test_an_empty_set_is_refused(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text("\n\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no questions"):
        load_set(path)


def test_score_asks_one_question_at_a_time_and_counts(tmp_path):
    path = tmp_path / "set.jsonl"
    write_lines(
        path,
        {"id": "paris", "question": "Capital of France?", "expect": ["paris"]},
        {"id": "rome", "question": "Capital of Italy?", "expect": ["rome"]},
        chat_line(("user", "What colour is the zorbling?"), ("assistant", "It is teal.")),
    )
    answers = {
        "Capital of France?": "Paris, of course.",
        "Capital of Italy?": "Milan.",
        "What colour is the zorbling?": "it is  TEAL",
    }
    asked, heard = [], []

    def ask(messages: list[dict]) -> str:
        asked.append(messages)
        messages.append({"role": "assistant", "content": "a caller's change stays its own"})
        return answers[messages[0]["content"]]

    questions = load_set(path)
    result = score(questions, ask, on_result=heard.append)
    assert (result.passed, result.total) == (2, 3)
    assert result.rate == pytest.approx(2 / 3)
    assert [(r.id, r.passed, r.answer) for r in result.results] == [
        ("paris", True, "Paris, of course."),
        ("rome", False, "Milan."),
        ("line-3", True, "it is  TEAL"),
    ]
    assert heard == result.results and len(asked) == 3
    assert all(len(q.messages) == 1 for q in questions)
    assert score([], ask).rate == 0.0


@pytest.mark.real_model
def test_the_shipped_model_on_the_quality_set_through_its_gguf(capsys):
    """Greedy, with the system prompt and repeat penalty the model is served with: what
    benchmarks/quality.py measures against a server (21/26, tests/e2e asks for 20)."""
    from modelmint.runtime.registry import Registry

    questions = load_set()
    spec = Registry.from_file().resolve("default")
    served = {
        "system_prompt": spec.default_system_prompt,
        "repeat_penalty": spec.defaults.get("repeat_penalty", 1.0),
    }
    started = time.perf_counter()
    with gguf_asker(spec.weights_path(), **served) as ask:
        result = score(questions, ask)
        again = ask(questions[0].messages)
    took = time.perf_counter() - started
    with capsys.disabled():
        print(f"\nquality set via gguf_asker: {result.passed}/{result.total} in {took:.0f} s")
    lines = [line for line in QUALITY_SET.read_text(encoding="utf-8").splitlines() if line]
    assert result.total == len(questions) == len(lines)
    failed = {r.id: r.answer[:80] for r in result.results if not r.passed}
    assert 20 <= result.passed <= result.total, failed
    assert again == result.results[0].answer  # greedy: the same answer again
    for question, answer in zip(questions, result.results, strict=True):
        assert answer.passed == question.passes(answer.answer)


@pytest.mark.real_model
def test_validation_metrics_of_the_base_checkpoint(tmp_path):
    from modelmint.runtime.hf.export import export_gguf
    from modelmint.runtime.registry import Registry

    gguf = Registry.from_file().resolve("default").weights_path()
    checkpoint = export_gguf(gguf, tmp_path / "hf")
    examples = [
        [{"role": "user", "content": q}, {"role": "assistant", "content": a}] for q, a in FACTS[:3]
    ]
    loss, accuracy = validation_metrics(checkpoint, None, examples, batch_size=2)
    assert math.isfinite(loss) and loss > 0
    assert 0.0 <= accuracy <= 1.0
    # token-weighted: batching does not change the means
    one_by_one = validation_metrics(checkpoint, None, examples, batch_size=1)
    assert one_by_one == pytest.approx((loss, accuracy), rel=1e-4)
