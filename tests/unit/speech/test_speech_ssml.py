"""SSML checks (what Polly accepts) and the conversion for espeak-ng."""

from __future__ import annotations

import pytest

from autovid.spec.ssml import parse_ssml, ssml_problem, ssml_text, strip_for_espeak

POLLY_SSML = (
    '<speak>Hello <amazon:effect name="whispered">quiet words</amazon:effect>.'
    '<amazon:breath duration="long"/> <amazon:domain name="news">Breaking news</amazon:domain>'
    ' <prosody rate="slow" amazon:max-duration="2s">slowly</prosody>'
    ' <w role="amazon:VB">read</w><lang xml:lang="fr-FR">bonjour</lang>'
    ' <say-as interpret-as="characters">abc</say-as> <break time="300ms"/>'
    ' <sub alias="World Wide Web">WWW</sub> &amp; more.</speak>'
)


def test_polly_ssml_with_amazon_tags_is_accepted() -> None:
    # amazon: is an undeclared prefix: a namespace-aware parser would call this malformed.
    assert ssml_problem(POLLY_SSML) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<speak>Hello <break time='1s'></speak>", "malformed SSML"),
        ("<speak>Hello", "malformed SSML"),
        ("Hello", "malformed SSML"),
        ("<p>Hello</p>", "SSML must have a <speak> root element, found <p>"),
        ("<speak>Hi <audio src='x.mp3'/></speak>", "unsupported SSML tag(s) <audio>"),
        ("<speak>Hi <speak>again</speak></speak>", "<speak> may only be the root element"),
        ("<speak> <break time='1s'/> </speak>", "no text to speak"),
        ('<!DOCTYPE speak [<!ENTITY x "boom">]><speak>&x;</speak>', "must not contain a DOCTYPE"),
    ],
)
def test_problems_are_named(text: str, expected: str) -> None:
    problem = ssml_problem(text)
    assert problem is not None and expected in problem


def test_unsupported_tag_message_lists_the_allowed_tags() -> None:
    problem = ssml_problem("<speak><voice name='x'>Hi</voice></speak>")
    assert problem is not None
    assert "<voice>" in problem and "<prosody>" in problem and "<amazon:effect>" in problem


def test_strip_for_espeak_keeps_the_speech_and_drops_polly_markup() -> None:
    stripped = strip_for_espeak(POLLY_SSML)
    assert "amazon" not in stripped
    assert "<w" not in stripped and "<lang" not in stripped and "xml:lang" not in stripped
    root = parse_ssml(stripped)
    assert root.tag == "speak"
    assert {el.tag for el in root.iter()} == {"speak", "prosody", "say-as", "break", "sub"}
    words = " ".join(ssml_text(stripped).split())
    assert words == ("Hello quiet words . Breaking news slowly read bonjour abc WWW & more.")
    prosody = root.find("prosody")
    assert prosody is not None and prosody.attrib == {"rate": "slow"}
    sub = root.find("sub")
    assert sub is not None and sub.attrib == {"alias": "World Wide Web"}


def test_strip_for_espeak_escapes_text() -> None:
    stripped = strip_for_espeak("<speak>a &lt; b &amp; c</speak>")
    assert stripped == "<speak>a &lt; b &amp; c</speak>"
