"""StopMatcher: stop strings found however the text is split into pieces, nothing lost or leaked."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelmint.runtime.stops import StopMatcher


def run(stops: list[str], pieces: list[str]) -> tuple[str, bool]:
    """Feed pieces until a stop is hit; the emitted text (flushed when no stop) and the hit."""
    matcher = StopMatcher(stops)
    out = []
    for piece in pieces:
        text, hit = matcher.feed(piece)
        out.append(text)
        if hit:
            return "".join(out), True
    return "".join(out) + matcher.flush(), False


def two_way_splits(text: str) -> list[list[str]]:
    return [[text[:i], text[i:]] for i in range(len(text) + 1)]


def test_no_stops_passes_everything_through():
    matcher = StopMatcher([])
    assert matcher.feed("hello ") == ("hello ", False)
    assert matcher.feed("world") == ("world", False)
    assert matcher.flush() == ""


def test_empty_stop_strings_are_ignored():
    assert StopMatcher(["", ""]).feed("abc") == ("abc", False)
    assert run(["", "c"], ["abcd"]) == ("ab", True)


@pytest.mark.parametrize("pieces", two_way_splits("hello STOP world"))
def test_stop_split_across_two_pieces_at_every_position(pieces):
    assert run(["STOP"], pieces) == ("hello ", True)


def test_stop_split_into_single_characters():
    assert run(["STOP"], list("hello STOP world")) == ("hello ", True)


def test_stop_at_the_very_start_emits_nothing():
    assert run(["<end>"], ["<e", "nd>", "more"]) == ("", True)


@pytest.mark.parametrize("pieces", two_way_splits("one\ntwo\n\nUser: three"))
def test_first_of_several_stops_wins(pieces):
    assert run(["User:", "\n\n"], pieces) == ("one\ntwo", True)
    assert run(["User:", "zzz"], pieces) == ("one\ntwo\n\n", True)


def test_partial_match_is_held_then_released():
    matcher = StopMatcher(["STOP"])
    assert matcher.feed("go ST") == ("go ", False)
    assert matcher.feed("OR") == ("STOR", False)
    assert matcher.feed("x S") == ("x ", False)
    assert matcher.flush() == "S"
    assert matcher.flush() == ""


def test_flush_returns_held_text_when_the_stream_ends():
    matcher = StopMatcher(["</answer>"])
    assert matcher.feed("42 </ans") == ("42 ", False)
    assert matcher.flush() == "</ans"


def test_text_ending_in_a_prefix_of_a_longer_stop_is_not_a_hit():
    assert run(["abc"], ["xa", "b"]) == ("xab", False)


# --- property --------------------------------------------------------------------------------

ALPHABET = "ab\n "
texts = st.text(alphabet=ALPHABET, max_size=40)
stop_lists = st.lists(st.text(alphabet=ALPHABET, min_size=1, max_size=4), max_size=3)


@st.composite
def split(draw, text: str) -> list[str]:
    cuts = sorted(draw(st.sets(st.integers(0, len(text)), max_size=len(text) + 1)))
    bounds = [0, *cuts, len(text)]
    return [text[i:j] for i, j in zip(bounds, bounds[1:], strict=False)]


@settings(max_examples=500, deadline=None)
@given(data=st.data(), text=texts, stops=stop_lists)
def test_emitted_text_is_the_text_up_to_the_first_stop(data, text, stops):
    pieces = data.draw(split(text))
    # the stop that completes first wins (ties: the one that starts first)
    found = [(i + len(s), i) for s in stops if (i := text.find(s)) >= 0]
    expected = (text[: min(found)[1]], True) if found else (text, False)
    assert run(stops, pieces) == expected


@settings(max_examples=300, deadline=None)
@given(data=st.data(), text=texts, stops=stop_lists)
def test_held_text_is_never_longer_than_a_stop(data, text, stops):
    matcher = StopMatcher(stops)
    longest = max((len(s) for s in stops), default=1)
    consumed, emitted = 0, 0
    for piece in data.draw(split(text)):
        out, hit = matcher.feed(piece)
        if hit:
            break
        consumed, emitted = consumed + len(piece), emitted + len(out)
        assert consumed - emitted <= longest - 1


def test_result_does_not_depend_on_the_split_when_stops_nest():
    # 'b' completes (after "ab") before 'abc' does; one piece or two must agree
    assert run(["abc", "b"], ["abc"]) == run(["abc", "b"], ["ab", "c"])
