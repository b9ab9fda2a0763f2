"""Cue building without media: timed words in, cues out, every rule checked on the result."""

from __future__ import annotations

import pytest

from autovid.captions.cues import CaptionRules, CaptionTrack, Cue, build_cues
from autovid.captions.subtitles import srt_text, vtt_text
from autovid.ports import WordTiming
from autovid.speech.timing import Anchor, timed_words, word_spans

RULES = CaptionRules(gap_s=2 / 25)


def spoken(
    text: str, *, rate_s: float = 0.3, pauses: dict[int, float] | None = None
) -> tuple[WordTiming, ...]:
    """Words of ``text`` timed as an engine would report them: one anchor per word."""
    anchors, time_s = [], 0.0
    for index, (start, _) in enumerate(word_spans(text)):
        time_s += (pauses or {}).get(index, 0.0)
        anchors.append(Anchor(start, time_s, time_s + rate_s * 0.9))
        time_s += rate_s
    return timed_words(text, anchors, time_s)


def shown_words(cues: tuple[Cue, ...]) -> list[str]:
    return [w for cue in cues for w in cue.text.split()]


def assert_rules(cues: tuple[Cue, ...], rules: CaptionRules = RULES) -> None:
    for cue, following in zip(cues, (*cues[1:], None), strict=True):
        lines = cue.text.split("\n")
        assert len(lines) <= rules.max_lines and all(len(line) <= rules.max_chars_per_line for line in lines)
        duration_s = cue.end_s - cue.start_s
        assert rules.min_duration_s - 1e-9 <= duration_s <= rules.max_duration_s + 1e-9
        assert len(cue.text.replace("\n", "")) / duration_s <= rules.max_chars_per_second + 1e-9
        if following is not None:
            assert following.start_s - cue.end_s >= rules.gap_s - 1e-9


LONG = (
    "Autovid knows the exact words it speaks, so its captions are exact in wording. They are timed "
    "to the word by the speech engine itself, follow the rules of subtitle craft, and come out in "
    "the three forms people use: a sidecar file, a soft track, and burned into the picture."
)


def test_every_word_once_in_order_and_every_rule_kept() -> None:
    built = build_cues([CaptionTrack(1.0, spoken(LONG))], RULES, end_s=120)
    assert shown_words(built.cues) == LONG.split()
    assert_rules(built.cues)
    assert built.cues[0].start_s == pytest.approx(1.0)
    assert built.dropped_words == 0 and built.cut_s is None


def test_cues_end_at_sentences_then_at_clauses() -> None:
    built = build_cues([CaptionTrack(0, spoken(LONG))], RULES, end_s=120)
    texts = [cue.text.replace("\n", " ") for cue in built.cues]
    assert texts[0].endswith("wording.")  # a sentence end closes a cue
    assert any(t.endswith(("itself,", "craft,", "use:", "file,")) for t in texts)  # clause before word


def test_a_pause_starts_a_new_cue_at_the_speech() -> None:
    words = spoken("First part here and then after a pause the rest", pauses={4: 0.6})
    built = build_cues([CaptionTrack(0, words)], RULES, end_s=60)
    second = next(c for c in built.cues if c.text.startswith("then"))
    assert second.start_s == pytest.approx(words[4].start_s)


def test_cjk_without_spaces_breaks_between_characters() -> None:
    text = "字" * 30 + "。" + "文" * 70
    built = build_cues(
        [CaptionTrack(0, spoken(text, rate_s=0.1))], CaptionRules(max_chars_per_line=16), end_s=60
    )
    assert "".join(cue.text.replace("\n", "") for cue in built.cues) == text
    assert all(len(line) <= 16 for cue in built.cues for line in cue.text.split("\n"))


def test_overlapping_events_never_overlap() -> None:
    one = CaptionTrack(0.0, spoken("The first voice speaks over the second one for a while."))
    two = CaptionTrack(1.0, spoken("And the second voice speaks at the same time."))
    built = build_cues([one, two], RULES, end_s=60)
    for cue, following in zip(built.cues, built.cues[1:], strict=False):
        assert following.start_s >= cue.end_s + RULES.gap_s - 1e-9


def test_cues_after_the_end_are_dropped_and_counted() -> None:
    built = build_cues(
        [CaptionTrack(0, spoken("One. Two. Three. Four. Five. Six.", rate_s=1.0))], RULES, end_s=3.0
    )
    assert all(cue.end_s <= 3.0 for cue in built.cues)
    assert built.cut_s == 3.0 and built.dropped_words == 3


def test_right_to_left_text_stays_in_logical_order() -> None:
    text = "שלום עולם, מה שלומך היום?"
    built = build_cues([CaptionTrack(0, spoken(text))], RULES, end_s=60)
    assert " ".join(c.text.replace("\n", " ") for c in built.cues) == text


def test_phrases_timed_as_one_still_wrap_between_words() -> None:
    phrase = "a phrase the engine timed as a whole, longer than one line of captions"
    word = WordTiming(phrase, 0.0, 4.0, 0, len(phrase))
    built = build_cues([CaptionTrack(0, (word,))], RULES, end_s=60)
    assert built.cues[0].text.replace("\n", " ") == phrase
    assert_rules(built.cues)


def test_untimed_words_join_the_word_before() -> None:
    words = timed_words("Hello — world", [Anchor(0, 0.0), Anchor(8, 0.5)], 1.0)
    assert [(w.text, w.start_s, w.end_s) for w in words] == [("Hello —", 0.0, 0.5), ("world", 0.5, 1.0)]


def test_writers_escape_only_what_each_format_needs() -> None:
    cues = build_cues([CaptionTrack(3661.5, spoken("Fish & chips <hot>"))], RULES, end_s=9999).cues
    assert srt_text(cues) == "1\n01:01:01,500 --> 01:01:02,670\nFish & chips <hot>\n"
    assert vtt_text(cues) == "WEBVTT\n\n01:01:01.500 --> 01:01:02.670\nFish &amp; chips &lt;hot&gt;\n"
