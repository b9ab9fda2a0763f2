"""Cutting long texts and SSML into requests within Polly's limits, at sentence boundaries."""

from __future__ import annotations

import re

import pytest

from autovid.spec.ssml import parse_ssml, ssml_problem, ssml_text
from autovid.speech.text import split_sentences, split_ssml, split_text

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Did it really?",
    "Yes!",
    "Foxes are “quick.”",
    "Dogs… are lazy.",
]


def long_text(total_chars: int) -> str:
    text, i = "", 0
    while len(text) < total_chars:
        text += SENTENCES[i % len(SENTENCES)] + " "
        i += 1
    return text.strip()


def test_split_sentences_round_trips() -> None:
    text = " ".join(SENTENCES) + " Trailing words"
    pieces = split_sentences(text)
    assert "".join(pieces) == text
    assert [p.strip() for p in pieces] == [*SENTENCES, "Trailing words"]


def test_cjk_sentences_split_without_spaces() -> None:
    full_stop, exclamation, question = "\u3002", "\uff01", "\uff1f"  # CJK forms
    text = f"一{full_stop}二{exclamation}三{question}"
    assert split_sentences(text) == [f"一{full_stop}", f"二{exclamation}", f"三{question}"]


def test_short_text_is_one_chunk() -> None:
    assert split_text("Hello there.", 3000) == ["Hello there."]


def test_long_text_is_cut_at_sentence_ends_within_the_limit() -> None:
    text = long_text(7000)
    chunks = split_text(text, 3000)
    assert len(chunks) == 3
    assert all(len(c) <= 3000 for c in chunks)
    assert all(re.search(r"[.!?”]$", c) for c in chunks), [c[-10:] for c in chunks]
    assert " ".join(chunks) == text


def test_one_overlong_sentence_is_cut_at_clauses_then_words() -> None:
    sentence = ", ".join(["word " * 20] * 10) + "."
    chunks = split_text(sentence, 150)
    assert all(len(c) <= 150 for c in chunks)
    assert " ".join(" ".join(chunks).split()) == " ".join(sentence.split())
    unbroken = "x" * 400
    assert split_text(unbroken, 150) == ["x" * 150, "x" * 150, "x" * 100]


def test_small_ssml_is_returned_unchanged() -> None:
    ssml = "<speak>Hello <break time='1s'/> world.</speak>"
    assert split_ssml(ssml, max_billed=3000, max_total=6000) == [ssml]


def test_long_ssml_becomes_valid_documents_within_both_limits() -> None:
    body = " ".join(
        f'<s>Sentence {i} &amp; more.</s> <break time="200ms"/> Plain {i} text here.' for i in range(400)
    )
    ssml = f'<speak><amazon:domain name="news">{body}</amazon:domain> The end.</speak>'
    parts = split_ssml(ssml, max_billed=3000, max_total=6000)
    assert len(parts) > 1
    for part in parts:
        assert ssml_problem(part) is None
        assert len(part) <= 6000
        assert len(ssml_text(part)) <= 3000
        # The wrapping element is repeated in every part that holds some of its content.
    assert all(parse_ssml(p).find("amazon:domain") is not None for p in parts[:-1])
    assert "".join(ssml_text(p) for p in parts) == ssml_text(ssml)


def test_ssml_tag_budget_counts_against_the_total_limit() -> None:
    # Few billed characters, many tag characters: the 6000-total limit is what forces the cut.
    ssml = "<speak>" + '<break time="10ms"/>a. ' * 400 + "</speak>"
    parts = split_ssml(ssml, max_billed=3000, max_total=6000)
    assert len(parts) >= 2 and all(len(p) <= 6000 for p in parts)
    assert sum(p.count("<break") for p in parts) == 400


def test_top_level_text_in_ssml_is_cut_at_sentences() -> None:
    ssml = f"<speak>{long_text(7000)}</speak>"
    parts = split_ssml(ssml, max_billed=3000, max_total=6000)
    assert len(parts) == 3
    assert all(ssml_text(p).rstrip().endswith((".", "!", "?", "”")) for p in parts[:-1])


@pytest.mark.parametrize("limit", [1, 5])
def test_an_impossible_budget_is_refused(limit: int) -> None:
    with pytest.raises(ValueError, match="longer than the request limit"):
        split_ssml(
            '<speak><prosody rate="slow">Hello there.</prosody></speak>', max_billed=3, max_total=30 + limit
        )
