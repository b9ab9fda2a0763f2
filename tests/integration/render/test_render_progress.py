"""The first quarter of a render's progress moves as each fetch, probe and synthesis finishes,
rather than sitting at 0 % and then leaping to the mixing stage."""

from __future__ import annotations

from tests.integration.render.conftest import Media, Renderer, audio_event, make_spec, tts_event


def test_progress_moves_through_fetching_and_speech_before_mixing(media: Media, renderer: Renderer) -> None:
    video = media.video("h264_2s.mp4", duration_s=2.0).name
    media.effect("hit.wav", "impact")
    media.music("loop_2s.mp3", 2.0)
    spec = make_spec(
        video,
        audio={"music": "loop_2s.mp3", "hit": "hit.wav"},
        music={"playlist": ["music"]},
        timeline=[audio_event(0.2, "hit"), *(tts_event(0.5 + i / 10, f"Line {i}.") for i in range(4))],
    )
    renderer(spec)
    before_mixing = []
    for stage, percent in renderer.progress:
        if stage == "mixing":
            break
        before_mixing.append((stage, percent))
    inside = [percent for _, percent in before_mixing if 0 < percent < 25]
    # the fetch, the video's probe and scan, two audio probes and four syntheses: 9 steps
    assert len(inside) >= 6, before_mixing
    assert before_mixing[0][0] == "fetching" and before_mixing[-1] == ("speech", 25.0)
