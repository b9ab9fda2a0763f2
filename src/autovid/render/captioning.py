"""The render's captions stage: the spec's captioned speech (and captions assets) become cues,
the sidecar files beside the MP4, and what the render reports about them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from autovid.errors import AssetError
from autovid.render.report import CAPTIONS_CUT_AT_END, NOTHING_TO_CAPTION, CaptionFile, RenderWarning
from autovid.spec.fonts import font_path
from autovid.spec.models import AudioEvent, CaptionsOutput, JobSpec, TtsEvent
from autovid.spec.voices import find_voice

if TYPE_CHECKING:  # the cue builder and pysubs2 load only when a spec asks for captions
    from autovid.captions.cues import BuiltCues, CaptionRules, Cue
    from autovid.ports import WordTiming

DEFAULT_LANGUAGE = "en-US"


@dataclass(frozen=True)
class Captions:
    cues: tuple[Cue, ...]
    language: str
    files: tuple[CaptionFile, ...]
    warnings: tuple[RenderWarning, ...]


def captioned_tts(spec: JobSpec) -> set[int]:
    """Timeline indexes of the TTS events whose words are captioned."""
    if spec.output.captions is None:
        return set()
    return {i for i, e in enumerate(spec.timeline) if isinstance(e, TtsEvent) and e.data.captions}


def caption_asset_ids(spec: JobSpec) -> list[str]:
    """The captions assets the render reads, in spec order."""
    if spec.output.captions is None:
        return []
    wanted = {e.data.captionsAssetId for e in spec.timeline if isinstance(e, AudioEvent)}
    return [a.id for a in spec.assets.captions if a.id in wanted]


def caption_language(spec: JobSpec, settings: CaptionsOutput) -> str:
    if settings.language:
        return settings.language
    for index in sorted(captioned_tts(spec)):
        event = spec.timeline[index]
        assert isinstance(event, TtsEvent)
        config = event.data.providerConfig
        voice = find_voice(config.voiceId)
        language = config.languageCode or (voice.language_code if voice else None)
        if language:
            return language
    return DEFAULT_LANGUAGE


def rules_for(settings: CaptionsOutput, frame_rate: float | None) -> CaptionRules:
    from autovid.captions.cues import CaptionRules, frame_gap_s

    return CaptionRules(
        max_chars_per_line=settings.maxCharsPerLine,
        max_lines=settings.maxLines,
        max_chars_per_second=settings.maxCharsPerSecond,
        min_duration_s=settings.minDuration,
        max_duration_s=settings.maxDuration,
        gap_s=frame_gap_s(frame_rate),
    )


def make_captions(
    spec: JobSpec,
    *,
    words: Mapping[int, tuple[WordTiming, ...]],
    caption_paths: Mapping[str, Path],
    end_s: float,
    frame_rate: float | None,
    output_path: Path,
) -> Captions | None:
    """Cues from the events' words and captions assets; the sidecars written beside
    ``output_path`` (same stem). None when the spec asks for no captions."""
    settings = spec.output.captions
    if settings is None:
        return None
    from autovid.captions.cues import CaptionTrack, build_cues
    from autovid.captions.subtitles import write_subtitles

    language = caption_language(spec, settings)
    if settings.burnIn is not None:
        font_path(settings.burnIn.font, language)  # a missing font fails before the long encode
    tracks = [CaptionTrack(spec.timeline[i].start, words.get(i, ())) for i in sorted(captioned_tts(spec))]
    given = _asset_cues(spec, caption_paths)
    built = build_cues(tracks, rules_for(settings, frame_rate), end_s=end_s, given=given)
    cues = list(built.cues)
    files = tuple(
        CaptionFile(f, language, write_subtitles(cues, output_path.with_suffix(f".{f}"), f))
        for f in settings.formats
    )
    return Captions(tuple(cues), language, files, _warnings(built, cues))


def _asset_cues(spec: JobSpec, caption_paths: Mapping[str, Path]) -> list[Cue]:
    from autovid.captions.subtitles import SubtitleFileError, read_subtitles

    cues: list[Cue] = []
    for event in spec.timeline:
        if isinstance(event, AudioEvent) and event.data.captionsAssetId in caption_paths:
            asset_id = event.data.captionsAssetId
            try:
                found = read_subtitles(caption_paths[asset_id], offset_s=event.start)
            except SubtitleFileError as exc:
                raise AssetError(asset_id, str(exc)) from None
            cues += found
    return cues


def _warnings(built: BuiltCues, cues: list[Cue]) -> tuple[RenderWarning, ...]:
    warnings: list[RenderWarning] = []
    if not cues:
        warnings.append(
            RenderWarning(
                NOTHING_TO_CAPTION,
                "output.captions is set but nothing is captioned: no TTS event has captions "
                "and no audio event names a captionsAssetId (the caption files are empty)",
            )
        )
    if built.cut_s is not None:
        warnings.append(
            RenderWarning(
                CAPTIONS_CUT_AT_END,
                f"captions cut at the video's end ({built.cut_s:.2f} s): "
                f"{built.dropped_words} word(s) said after it are not shown",
            )
        )
    return tuple(warnings)
