"""``render()``: a job spec in, an MP4 out.

Stages (each timed, each reporting progress): fetching (assets to local files, probed), speech
(distinct TTS requests synthesized concurrently), mixing (the pure plan, then the streaming mixer
into an AAC track), encoding (the MP4: video copied or encoded once, audio muxed in).
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from autovid.captions.languages import mp4_language
from autovid.errors import AssetError, MediaError, SpeechError
from autovid.ports import SpeechRequest
from autovid.render.aac import SegmentStore, write_aac_track
from autovid.render.captioning import Captions, caption_asset_ids, captioned_tts, make_captions
from autovid.render.limits import RenderLimits
from autovid.render.loudness import (
    LoudnessMeter,
    StretchedLoudness,
    TruePeak,
    limiting_warning,
    normalising_gain,
)
from autovid.render.media import (
    SAMPLE_RATE,
    AudioReader,
    DecodedAudio,
    DecodedSources,
    MediaInfo,
    ProbeCache,
    VideoInfo,
    VideoScan,
)
from autovid.render.mixer import AAC_HEADROOM_DB, DEFAULT_TRUE_PEAK_DBTP, Mixer, SampleSource
from autovid.render.mux import (
    CopyingMp4Writer,
    EncodingMp4Writer,
    TextTrack,
    VideoMode,
    choose_video_mode,
    drawn_on,
)
from autovid.render.plan import Plan, Source, make_plan
from autovid.render.report import VOICE_SUBSTITUTED, AudioReport, CaptionFile, RenderWarning, VoiceUsed
from autovid.spec.models import AudioAsset, AudioEvent, JobSpec, TtsEvent, VideoAsset
from autovid.speech.synthesizer import read_word_timings, speech_request

if TYPE_CHECKING:
    import av

log = logging.getLogger(__name__)
MAX_SPEECH_WORKERS = 4
MAX_PROBE_WORKERS = 4
PREPARED_PERCENT = 25.0  # fetching, probing and speech; mixing and encoding take the rest
DEFAULT_LIMITS = RenderLimits()
MAX_DECODED_BYTES = 48 * 1024 * 1024  # repeated sources kept decoded: ~2 min of stereo float32
_NO_PROBE_CACHE = ProbeCache(max_entries=0)
_TRUNCATION_TOLERANCE_S = 0.5
_DECODE_AHEAD_WORKERS = 2  # sources decoded beside the measuring pass (which mixes what is decoded)
_MEASURING_SHARE = 0.3  # of the mixing stage's progress, when a loudness target needs a first pass


class AssetSource(Protocol):
    """Brings a spec's assets to local files (``autovid.assets.fetcher.AssetFetcher``)."""

    def fetch_all(self, assets: Sequence[AudioAsset | VideoAsset], dest_dir: Path) -> dict[str, Path]: ...


class Synthesizer(Protocol):
    """Turns a speech request into a local audio file (``autovid.speech.SpeechSynthesizer``)."""

    def synthesize(self, request: SpeechRequest) -> Path: ...

    def voice_used(self, request: SpeechRequest) -> tuple[str, str]:
        """(engine, the engine's own voice name) that speaks ``request``."""
        return ("speech", request.voice_id)


@dataclass(frozen=True)
class RenderResult:
    output_path: Path
    duration_s: float
    size_bytes: int
    timings_s: dict[str, float]
    video_copied: bool
    warnings: tuple[RenderWarning, ...] = ()
    audio: AudioReport | None = None
    captions: tuple[CaptionFile, ...] = ()
    voices: tuple[VoiceUsed, ...] = ()


@dataclass(frozen=True)
class Reuse:
    """What renders share so that a batch's rows cost little more than what differs between them:
    encoded AAC segments (a machine's disk cache), decoded sources and what probing and scanning
    the media found (this process's memory)."""

    segments: SegmentStore | None = None
    decoded: DecodedSources | None = None
    probes: ProbeCache | None = None


@dataclass
class _Inputs:
    """The fetched, probed media of one job."""

    video_path: Path
    video: MediaInfo
    scan: VideoScan
    asset_paths: dict[str, Path]
    asset_durations_s: dict[str, float]
    speech_paths: dict[int, Path] = field(default_factory=dict)
    speech_durations_s: dict[int, float] = field(default_factory=dict)
    caption_paths: dict[str, Path] = field(default_factory=dict)  # captions assets
    max_frame_pixels: int | None = None  # the video's decoder refuses bigger frames


class _Progress:
    """Monotonic, throttled progress: percent never goes back, and tiny steps are not reported."""

    def __init__(self, callback: Callable[[str, float], None] | None) -> None:
        self._callback = callback
        self._stage = ""
        self._percent = 0.0
        self._lock = threading.Lock()  # the preparation steps finish on worker threads

    def report(self, stage: str, percent: float) -> None:
        with self._lock:
            percent = min(100.0, max(self._percent, percent))
            if stage == self._stage and percent - self._percent < 1.0 and percent < 100.0:
                return
            self._stage, self._percent = stage, percent
            if self._callback:
                self._callback(stage, round(percent, 1))


class _Preparation:
    """Progress through the first 25 %: each fetch, probe and synthesis that finishes (they run
    side by side) moves the bar, so it advances from the first second instead of leaping from 0.
    The stage reads "fetching" until the assets are fetched and probed, then "speech"."""

    def __init__(self, meter: _Progress, *, media_steps: int, speech_steps: int) -> None:
        self._meter = meter
        self._media_left = media_steps
        self._steps = max(1, media_steps + speech_steps)
        self._done = 0
        self._lock = threading.Lock()

    def media_step(self) -> None:
        self._step(media=True)

    def speech_step(self) -> None:
        self._step(media=False)

    def _step(self, *, media: bool) -> None:
        with self._lock:
            self._done += 1
            self._media_left -= media
            stage = "fetching" if self._media_left > 0 else "speech"
            percent = PREPARED_PERCENT * min(1.0, self._done / self._steps)
            self._meter.report(stage, percent)


def render(
    spec: JobSpec,
    *,
    output_path: Path,
    assets: AssetSource,
    speech: Synthesizer,
    workdir: Path,
    progress: Callable[[str, float], None] | None = None,
    checkpoint: Callable[[], None] | None = None,
    limits: RenderLimits = DEFAULT_LIMITS,
    reuse: Reuse | None = None,
    encoder_threads: int | None = None,
) -> RenderResult:
    """Render ``spec`` to ``output_path``. ``checkpoint`` is called between steps and for every
    audio block; whatever it raises (cancellation, timeout) aborts the render. A job over
    ``limits`` fails before its speech is synthesized or any asset decoded. With ``reuse``, what
    earlier renders decoded or encoded from the same inputs is not done again; the output is the
    same, byte for byte. ``encoder_threads`` AAC encoders run at once (default: one per core this
    process may use); the output does not depend on it."""
    check = checkpoint or (lambda: None)
    meter = _Progress(progress)
    timings: dict[str, float] = {}
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    shared = reuse or Reuse()
    probes = shared.probes or _NO_PROBE_CACHE
    with ExitStack() as stack:  # leaving it without finishing stops the video threads, removes the file
        video = _WriterMaker(spec, output_path, stack)
        inputs = _prepare(spec, assets, speech, workdir, check, meter, timings, limits, probes, video.early)
        captions = _captions(spec, inputs, output_path)
        writer = video.writer or video.start(inputs, captions)
        plan, mixed = _write(
            spec, inputs, writer, captions, workdir, check, meter, timings, shared, encoder_threads
        )
    timings["total"] = time.perf_counter() - started
    log.info("rendered %s (%.2f s) in %s", output_path.name, plan.duration_s, _format_timings(timings))
    meter.report("encoding", 100)
    copied = isinstance(writer, CopyingMp4Writer)
    return _result(spec, speech, plan, mixed, captions, output_path, timings, video_copied=copied)


class _WriterMaker:
    """Makes the render's MP4 writer once, in ``stack``. When the video is re-encoded and nothing
    drawn on it waits for the speech (burned-in captions do), the writer is made as soon as the
    video is probed: libx264 then encodes while the speech is still being synthesized."""

    def __init__(self, spec: JobSpec, output_path: Path, stack: ExitStack) -> None:
        self._spec = spec
        self._output_path = output_path
        self._stack = stack
        self._mode: VideoMode | None = None
        self.writer: CopyingMp4Writer | EncodingMp4Writer | None = None

    def early(self, inputs: _Inputs) -> None:
        captions = self._spec.output.captions
        burned_in = captions is not None and captions.burnIn is not None
        if not burned_in and not self._mode_of(inputs).copy:
            self.start(inputs, None)

    def start(self, inputs: _Inputs, captions: Captions | None) -> CopyingMp4Writer | EncodingMp4Writer:
        writer = _mp4_writer(self._spec, inputs, self._mode_of(inputs), captions, self._output_path)
        self.writer = self._stack.enter_context(writer)
        return self.writer

    def _mode_of(self, inputs: _Inputs) -> VideoMode:
        if self._mode is None:  # chosen (and logged) once
            self._mode = _video_mode(self._spec, inputs)
        return self._mode


def _prepare(
    spec: JobSpec,
    assets: AssetSource,
    speech: Synthesizer,
    workdir: Path,
    check: Callable[[], None],
    meter: _Progress,
    timings: dict[str, float],
    limits: RenderLimits,
    probes: ProbeCache,
    on_probed: Callable[[_Inputs], None],
) -> _Inputs:
    """Fetch and probe the assets and synthesize the speech, side by side (speech needs none of
    the assets); the first quarter of the progress. ``probes`` keeps what probing found across
    renders; ``on_probed`` gets the probed media while the speech may still be running."""
    with ThreadPoolExecutor(max_workers=MAX_SPEECH_WORKERS, thread_name_prefix="speech") as speech_pool:
        speaking = _start_speech(spec, speech, speech_pool, limits, probes)
        # the fetch, then the video's probe and packet scan, then each audio asset's probe
        media_steps = 3 + len(used_audio_ids(spec))
        prep = _Preparation(meter, media_steps=media_steps, speech_steps=len(speaking))
        for future in speaking:
            future.add_done_callback(lambda _: prep.speech_step())
        try:
            with _timed(timings, "fetching"):
                meter.report("fetching", 0)
                inputs = _fetch_and_probe(
                    spec, assets, workdir / "assets", check, limits, prep.media_step, probes
                )
                on_probed(inputs)
            with _timed(timings, "speech"):
                _collect_speech(speaking, inputs, check, lambda f: None)
                meter.report("speech", PREPARED_PERCENT)
        except BaseException:
            for future in speaking:
                future.cancel()
            raise
    return inputs


def _write(
    spec: JobSpec,
    inputs: _Inputs,
    writer: CopyingMp4Writer | EncodingMp4Writer,
    captions: Captions | None,
    workdir: Path,
    check: Callable[[], None],
    meter: _Progress,
    timings: dict[str, float],
    reuse: Reuse,
    encoder_threads: int | None = None,
) -> tuple[Plan, _Mixed]:
    """Mix and encode the audio and finish the MP4 ``writer``, made before the mix. Fast path:
    the MP4 is written as the audio is encoded (video packets interleaved with each finished AAC
    segment). Otherwise the video is being decoded and encoded beside the mix, and the AAC goes
    to a file first."""
    copying = isinstance(writer, CopyingMp4Writer)
    mixed_until = 95.0 if copying else 40.0  # on the fast path the time goes to the audio
    with _timed(timings, "mixing"):
        plan = _plan(spec, inputs)
        audio = writer if copying else workdir / "mix.m4a"
        on_mixed = _reporter(meter, "mixing", PREPARED_PERCENT, mixed_until)
        mixed = _mix_to_aac(spec, plan, inputs, audio, check, on_mixed, reuse, encoder_threads)
    with _timed(timings, "encoding"):
        meter.report("encoding", mixed_until)
        if isinstance(writer, CopyingMp4Writer):
            check()  # the last moment a cancel can still leave no file behind
            writer.finish()
        else:
            on_fraction = _reporter(meter, "encoding", mixed_until, 100)
            texts = _text_track(spec, captions)
            writer.finish(workdir / "mix.m4a", checkpoint=check, on_progress=on_fraction, text_track=texts)
    return plan, mixed


def _result(
    spec: JobSpec,
    speech: Synthesizer,
    plan: Plan,
    mixed: _Mixed,
    captions: Captions | None,
    output_path: Path,
    timings: dict[str, float],
    *,
    video_copied: bool,
) -> RenderResult:
    """The render's report: what the plan cut, what the mix measured and warned, who spoke,
    the captions written."""
    voices = _voices(spec, speech)
    return RenderResult(
        output_path=output_path,
        duration_s=plan.duration_s,
        size_bytes=output_path.stat().st_size,
        timings_s=timings,
        video_copied=video_copied,
        warnings=(
            *plan.warnings,
            *mixed.warnings,
            *_substitutions(spec, voices),
            *(captions.warnings if captions else ()),
        ),
        audio=mixed.audio,
        captions=captions.files if captions else (),
        voices=voices,
    )


def _captions(spec: JobSpec, inputs: _Inputs, output_path: Path) -> Captions | None:
    if spec.output.captions is None:
        return None
    words = {
        i: read_word_timings(inputs.speech_paths[i]) for i in captioned_tts(spec) if i in inputs.speech_paths
    }
    frame_rate = _video_info(inputs).frame_rate
    output_path.parent.mkdir(parents=True, exist_ok=True)
    return make_captions(
        spec,
        words=words,
        caption_paths=inputs.caption_paths,
        end_s=inputs.scan.duration_s,
        frame_rate=float(frame_rate) if frame_rate else None,
        output_path=output_path,
    )


def _text_track(spec: JobSpec, captions: Captions | None) -> TextTrack | None:
    if captions is None or spec.output.captions is None or not spec.output.captions.track:
        return None
    return TextTrack(mp4_language(captions.language), [(c.start_s, c.end_s, c.text) for c in captions.cues])


def _video_mode(spec: JobSpec, inputs: _Inputs) -> VideoMode:
    mode = choose_video_mode(_video_info(inputs), inputs.scan, spec.output.encoding)
    if mode.copy and spec.output.captions is not None and spec.output.captions.burnIn is not None:
        mode = VideoMode(False, "captions are burned into the picture (output.captions.burnIn)")
    log.info("video %s: %s", "copied" if mode.copy else "encoded with libx264", mode.reason)
    if spec.assets.video.volume > 0 and inputs.video.audio is None:
        log.warning("assets.video.volume is %s but the video has no usable audio", spec.assets.video.volume)
    return mode


@dataclass(frozen=True)
class _Mixed:
    audio: AudioReport
    warnings: tuple[RenderWarning, ...]


def _mix_to_aac(
    spec: JobSpec,
    plan: Plan,
    inputs: _Inputs,
    audio: Path | CopyingMp4Writer,
    check: Callable[[], None],
    on_fraction: Callable[[float], None],
    reuse: Reuse,
    encoder_threads: int | None = None,
) -> _Mixed:
    """Mix, measure and encode. With ``output.loudness`` a first pass measures the mix (keeping
    only its energy and peak per 5 ms) and the second plays it at the gain that reaches the
    target after the limiter, which holds the requested true peak. The figures reported are the
    final mix's: loudness as it goes to the encoder, true peak of the AAC as decoded."""
    loudness = spec.output.loudness
    total = max(1, plan.total_samples)
    gain_db, warnings = 0.0, list[RenderWarning]()
    true_peak = DEFAULT_TRUE_PEAK_DBTP if loudness is None else loudness.truePeak
    if loudness is None:
        opener = _source_opener(inputs, plan, reuse=reuse)
    else:  # both passes read every source decoded once; the measuring pass, as it is decoded
        halt = threading.Event()  # a failed or cancelled pass stops the decoding at once
        with ThreadPoolExecutor(max_workers=_DECODE_AHEAD_WORKERS, thread_name_prefix="decode") as ahead:
            try:
                opener = _source_opener(inputs, plan, passes=2, reuse=reuse, ahead=ahead, halt=halt)
                measuring = _reporter_slice(on_fraction, 0.0, _MEASURING_SHARE)
                profile = _profile(plan, opener, check, measuring)
            finally:
                halt.set()
                ahead.shutdown(cancel_futures=True)
        gain_db, warnings = normalising_gain(
            profile, loudness.target_lufs, ceiling_dbfs=true_peak - AAC_HEADROOM_DB
        )
    encoding = _reporter_slice(on_fraction, 0.0 if loudness is None else _MEASURING_SHARE, 1.0)
    mixer = Mixer(
        plan, opener, checkpoint=check, gain=10 ** (gain_db / 20), ceiling_dbfs=true_peak - AAC_HEADROOM_DB
    )
    final = StretchedLoudness(plan.sample_rate)  # each segment's on its worker, or from the cache
    peak = TruePeak()  # of the AAC as decoded: the codec's overshoot included
    write_aac_track(
        mixer.blocks(),
        audio,
        sample_rate=plan.sample_rate,
        bitrate_bps=spec.output.encoding.audio_bitrate_bps(),
        expected_samples=plan.total_samples,
        on_block=lambda produced: encoding(produced / total),
        true_peak=peak,
        loudness=final,
        cache=reuse.segments,
        sound_ends=plan.sound_ends(),
        workers=encoder_threads,
    )
    target = None if loudness is None else loudness.target_lufs
    heavy = limiting_warning(-mixer.limiter.max_reduction_db, target_lufs=target, ceiling_dbtp=true_peak)
    measured = final.result()
    report = AudioReport(measured.integrated_lufs, peak.dbtp, measured.loudness_range, target_lufs=target)
    return _Mixed(report, (*warnings, *([heavy] if heavy else [])))


def _profile(
    plan: Plan,
    opener: Callable[[Source], SampleSource],
    check: Callable[[], None],
    on_fraction: Callable[[float], None],
) -> LoudnessMeter:
    """The plan's mix before any gain or limiting, measured: a pass that keeps nothing of the
    audio but its energies and peaks per 5 ms."""
    meter = LoudnessMeter(plan.sample_rate, true_peak=False, profile=True)
    total = max(1, plan.total_samples)
    mixer = Mixer(plan, opener, checkpoint=check)
    for _ in meter.metered_beside(mixer.mixed()):  # this thread mixes while another measures
        on_fraction(mixer.mixed_samples / total)
    return meter


def _reporter_slice(on_fraction: Callable[[float], None], low: float, high: float) -> Callable[[float], None]:
    return lambda fraction: on_fraction(low + (high - low) * fraction)


def _mp4_writer(
    spec: JobSpec, inputs: _Inputs, mode: VideoMode, captions: Captions | None, output_path: Path
) -> CopyingMp4Writer | EncodingMp4Writer:
    if mode.copy:
        text_track = _text_track(spec, captions)
        return CopyingMp4Writer(
            video_path=inputs.video_path, scan=inputs.scan, output_path=output_path, text_track=text_track
        )
    return EncodingMp4Writer(
        video_path=inputs.video_path,
        video=_video_info(inputs),
        scan=inputs.scan,
        output_path=output_path,
        encoding=spec.output.encoding,
        overlay=_burn_in(spec, captions, _video_info(inputs)),
        max_frame_pixels=inputs.max_frame_pixels,
    )


def _burn_in(
    spec: JobSpec, captions: Captions | None, video: VideoInfo
) -> Callable[[av.VideoFrame, float], av.VideoFrame] | None:
    settings = spec.output.captions
    if captions is None or settings is None or settings.burnIn is None:
        return None
    # Imported here: Pillow and its fonts load only for renders that burn captions in.
    from autovid.captions.burn_in import CaptionPainter

    painter = CaptionPainter(captions.cues, settings.burnIn, captions.language, video.width, video.height)
    return drawn_on(painter.overlay)


def _reporter(meter: _Progress, stage: str, low: float, high: float) -> Callable[[float], None]:
    """Maps a stage's own 0..1 progress onto its share of the overall percent."""
    return lambda fraction: meter.report(stage, low + (high - low) * fraction)


def _format_timings(timings: dict[str, float]) -> str:
    return ", ".join(f"{stage} {seconds:.2f} s" for stage, seconds in timings.items())


@contextmanager
def _timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        timings[stage] = time.perf_counter() - started


# --- fetching ---------------------------------------------------------------------------------


def used_audio_ids(spec: JobSpec) -> list[str]:
    """Audio asset ids the render reads (playlist and timeline), in spec order."""
    used = set(spec.backgroundMusic.playlist if spec.backgroundMusic else [])
    used.update(e.data.assetId for e in spec.timeline if isinstance(e, AudioEvent))
    return [a.id for a in spec.assets.audio if a.id in used]


def _event_asset_ids(spec: JobSpec) -> set[str]:
    return {e.data.assetId for e in spec.timeline if isinstance(e, AudioEvent)}


def _fetch_and_probe(
    spec: JobSpec,
    assets: AssetSource,
    dest_dir: Path,
    check: Callable[[], None],
    limits: RenderLimits,
    on_step: Callable[[], None] = lambda: None,
    probes: ProbeCache = _NO_PROBE_CACHE,
) -> _Inputs:
    audio_ids = used_audio_ids(spec)
    wanted: list[AudioAsset | VideoAsset] = [spec.assets.video]
    wanted += [spec.audio_assets[i] for i in audio_ids]
    caption_assets = {a.id: a for a in spec.assets.captions}
    wanted += [caption_assets[i] for i in caption_asset_ids(spec)]
    dest_dir.mkdir(parents=True, exist_ok=True)
    paths = assets.fetch_all(wanted, dest_dir)
    for asset in wanted:
        if asset.id not in paths:
            raise AssetError(asset.id, "was not fetched")
    check()
    for asset in wanted[: 1 + len(audio_ids)]:  # the media; subtitle files are read as text
        _check_limits(asset.id, paths[asset.id], limits, probes)
    on_step()
    video_id = spec.assets.video.id
    event_ids = _event_asset_ids(spec)
    # FFmpeg demuxes and decodes without holding the GIL: the files are probed side by side.
    with ThreadPoolExecutor(max_workers=MAX_PROBE_WORKERS, thread_name_prefix="probe") as pool:
        video_info = pool.submit(probes.probe, paths[video_id])
        video_scan = pool.submit(probes.scan_video, paths[video_id])
        measured = {
            asset_id: pool.submit(
                _audio_duration_s, asset_id, paths[asset_id], exact=asset_id in event_ids, probes=probes
            )
            for asset_id in audio_ids
        }
        for future in (video_info, video_scan, *measured.values()):
            future.add_done_callback(lambda _: on_step())
        video, scan = _probed_video(video_id, video_info, video_scan)
        if (too_long := limits.duration_problem(scan.duration_s)) is not None:
            raise AssetError(video_id, too_long)  # its timestamps run past what it declared
        durations = {asset_id: future.result() for asset_id, future in measured.items()}
    check()
    return _Inputs(
        video_path=paths[video_id],
        video=video,
        scan=scan,
        asset_paths={i: paths[i] for i in audio_ids},
        asset_durations_s=durations,
        caption_paths={i: paths[i] for i in caption_asset_ids(spec)},
        max_frame_pixels=limits.max_frame_pixels,
    )


def _check_limits(asset_id: str, path: Path, limits: RenderLimits, probes: ProbeCache) -> None:
    try:
        probes.check_limits(path, limits)
    except MediaError as exc:
        raise AssetError(asset_id, exc.message) from None


def _probed_video(
    asset_id: str, info_future: Future[MediaInfo], scan_future: Future[VideoScan]
) -> tuple[MediaInfo, VideoScan]:
    """The video's description and packet scan, checked; the probe's verdict comes first (a file
    that is no video fails the scan too, less clearly)."""
    try:
        info = info_future.result()
        if info.video is None:
            raise MediaError(_missing(info, "video", "the base video must contain one"))
        scan = scan_future.result()
    except MediaError as exc:
        raise AssetError(asset_id, exc.message) from None
    declared_s = info.video.duration_s
    # Some containers declare the end time rather than the length (Matroska starting late).
    found_s = max(scan.duration_s, float(scan.start_pts * scan.time_base) + scan.duration_s)
    if declared_s and found_s < declared_s * 0.9 - _TRUNCATION_TOLERANCE_S:
        raise AssetError(
            asset_id,
            f"is truncated or damaged: its video data ends at {scan.duration_s:.2f} s "
            f"of the {declared_s:.2f} s it declares",
        )
    return info, scan


def _audio_duration_s(asset_id: str, path: Path, *, exact: bool, probes: ProbeCache) -> float:
    """Duration of an audio asset. Event clips are measured exactly (a streaming decode) so their
    ends are never cut; music tracks, often long, by their packets (no decode) so that crossfades
    land where the track really ends."""
    try:
        info = probes.probe(path)
        if info.audio is None:
            raise MediaError(_missing(info, "audio", "audio assets must contain one"))
        if not exact:
            from_packets_s = probes.audio_packet_duration_s(path)
            if from_packets_s:
                return from_packets_s
        return probes.audio_sample_count(path) / SAMPLE_RATE
    except MediaError as exc:
        raise AssetError(asset_id, exc.message) from None


def _missing(info: MediaInfo, kind: str, rule: str) -> str:
    if kind in info.undecodable:
        return f"its {kind} stream cannot be decoded (empty or corrupt); {rule}"
    return f"has no {kind} stream; {rule}"


def _video_info(inputs: _Inputs) -> VideoInfo:
    assert inputs.video.video is not None  # _probe_video refused files without one
    return inputs.video.video


# --- speech -----------------------------------------------------------------------------------


def _start_speech(
    spec: JobSpec, speech: Synthesizer, pool: ThreadPoolExecutor, limits: RenderLimits, probes: ProbeCache
) -> dict[Future[tuple[Path, float]], list[int]]:
    """Synthesize each distinct request once, on ``pool``; each future lists its events. Too
    much text in all is refused before a word is spoken."""
    if (too_much := limits.speech_problem(spec)) is not None:
        raise SpeechError(f"timeline: {too_much}")
    events: dict[SpeechRequest, list[int]] = {}
    captioned = captioned_tts(spec)
    for index, event in enumerate(spec.timeline):
        if isinstance(event, TtsEvent):
            request = speech_request(event.data, word_timings=index in captioned)
            events.setdefault(request, []).append(index)
    return {
        pool.submit(_synthesize_and_measure, speech, request, probes): indexes
        for request, indexes in events.items()
    }


def _collect_speech(
    speaking: dict[Future[tuple[Path, float]], list[int]],
    inputs: _Inputs,
    check: Callable[[], None],
    on_fraction: Callable[[float], None],
) -> None:
    """Record each event's speech file and length as its synthesis finishes."""
    pending = set(speaking)
    while pending:
        finished, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
        check()
        for future in finished:
            _record_speech(inputs, speaking[future], future)
        on_fraction(1 - len(pending) / len(speaking))
    on_fraction(1.0)


def _synthesize_and_measure(
    speech: Synthesizer, request: SpeechRequest, probes: ProbeCache
) -> tuple[Path, float]:
    """The speech file and its exact length (a decode, on this worker: the files are measured
    side by side; a batch's fixed lines once per process)."""
    path = speech.synthesize(request)
    return path, probes.audio_sample_count(path, ours=True) / SAMPLE_RATE


def _record_speech(inputs: _Inputs, indexes: list[int], future: Future[tuple[Path, float]]) -> None:
    try:
        path, duration_s = future.result()
    except MediaError as exc:
        where = ", ".join(f"timeline[{i}]" for i in indexes)
        raise SpeechError(f"{where}: the synthesized speech is not readable audio ({exc.message})") from None
    for index in indexes:
        inputs.speech_paths[index] = path
        inputs.speech_durations_s[index] = duration_s


# --- mixing -----------------------------------------------------------------------------------


def _plan(spec: JobSpec, inputs: _Inputs) -> Plan:
    own_audio = inputs.video.audio
    video_start_s = float(inputs.scan.start_pts * inputs.scan.time_base)
    return make_plan(
        spec,
        video_duration_s=inputs.scan.duration_s,
        asset_durations_s=inputs.asset_durations_s,
        speech_durations_s=inputs.speech_durations_s,
        video_audio_duration_s=own_audio.duration_s if own_audio else None,
        video_audio_delay_s=(own_audio.start_s - video_start_s) if own_audio else 0.0,
        sample_rate=SAMPLE_RATE,
    )


class _GuardedReader:
    """A reader whose failures name the asset (or speech event) they came from."""

    def __init__(self, reader: SampleSource, fail: Callable[[str], Exception]) -> None:
        self._reader = reader
        self._fail = fail

    def read(self, count: int) -> np.ndarray:
        try:
            return self._reader.read(count)
        except MediaError as exc:
            raise self._fail(exc.message) from None

    def skip(self, count: int) -> None:
        try:
            self._reader.skip(count)
        except MediaError as exc:
            raise self._fail(exc.message) from None

    def close(self) -> None:
        self._reader.close()


def _source_opener(
    inputs: _Inputs,
    plan: Plan,
    *,
    passes: int = 1,
    reuse: Reuse | None = None,
    ahead: ThreadPoolExecutor | None = None,
    halt: threading.Event | None = None,
) -> Callable[[Source], SampleSource]:
    """Opens each clip's source: streamed from its file, or, for a source played more than once
    (a looped track, or any source when the plan is mixed twice to measure its loudness) and short
    enough, decoded once and then read from memory — a repetition no longer costs a decode (and a
    resample). With ``reuse.decoded`` (kept across renders) every audio asset short enough is
    read through it, keyed by the digest ``reuse.probes`` already knows: a batch decodes its music
    bed and its effects once, not once per row. With ``ahead``, the sources kept in memory are
    decoded on its threads from the start, as far as the plan plays them (or until ``halt`` is
    set), while the mixer reads what is decoded so far."""
    plays = Counter(clip.source for clip in plan.clips for _ in range(passes))  # in order of first play
    shared: dict[Source, DecodedAudio | Future[DecodedAudio] | None] = {}  # None: decoded at first play
    budget = MAX_DECODED_BYTES
    decoded = reuse.decoded if reuse else None
    digest = reuse.probes.digest if reuse and reuse.probes else _content_digest
    for source, count in plays.items():
        size = _decoded_samples(inputs, source)
        kept_across = decoded is not None and source.kind == "asset"
        if (count > 1 or kept_across) and size is not None and size * 2 * 4 <= budget:
            shared[source] = None
            budget -= size * 2 * 4

    def decoded_audio(source: Source, path: Path) -> DecodedAudio:
        return DecodedAudio(
            path,
            plays=plays[source],
            expected_samples=_decoded_samples(inputs, source) or 0,
            sample_rate=SAMPLE_RATE,
            kept=(decoded, f"{digest(path)}@{SAMPLE_RATE}") if decoded is not None else None,
            ours=source.kind == "speech",
        )

    if ahead is not None:
        made = {source: lambda s=source: decoded_audio(s, _source_file(inputs, s)[0]) for source in shared}
        shared.update(_decoding_ahead(plan, made, ahead, halt or threading.Event()))

    def open_source(source: Source) -> SampleSource:
        path, fail = _source_file(inputs, source)
        try:
            if source not in shared:
                reader = AudioReader(path, sample_rate=SAMPLE_RATE, ours=source.kind == "speech")
                return _GuardedReader(reader, fail)
            audio = shared[source]
            if isinstance(audio, Future):
                audio = shared[source] = audio.result()
            elif audio is None:
                audio = shared[source] = decoded_audio(source, path)
            return _GuardedReader(audio.reader(), fail)
        except MediaError as exc:
            raise fail(exc.message) from None

    return open_source


def _decoding_ahead(
    plan: Plan,
    make: dict[Source, Callable[[], DecodedAudio]],
    ahead: ThreadPoolExecutor,
    halt: threading.Event,
) -> dict[Source, Future[DecodedAudio]]:
    """Each source's ``DecodedAudio``, made on ``ahead`` (its file opened there); once all are
    made, each is decoded there too, in the order the plan first plays them, as far as the plan
    plays it. A play reads what is decoded so far and decodes the rest itself when it gets ahead."""

    def made(source: Source) -> DecodedAudio:
        audio = make[source]()
        until = max(clip.offset + clip.length for clip in plan.clips if clip.source == source)
        with suppress(RuntimeError):  # raised when the pass is over (the pool shut): nothing to decode
            ahead.submit(audio.decode_ahead, until, halt)  # queued after every source's opening
        return audio

    return {source: ahead.submit(made, source) for source in make}


def _content_digest(path: Path) -> str:
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def _decoded_samples(inputs: _Inputs, source: Source) -> int | None:
    """The source's length at the mix's rate, when known."""
    if source.kind == "asset":
        duration_s = inputs.asset_durations_s.get(source.name)
    elif source.kind == "speech":
        duration_s = inputs.speech_durations_s.get(int(source.name))
    else:
        duration_s = None
    return None if duration_s is None else math.ceil(duration_s * SAMPLE_RATE)


def _source_file(inputs: _Inputs, source: Source) -> tuple[Path, Callable[[str], Exception]]:
    """The source's local file, and how its failures are reported."""
    if source.kind == "speech":
        index = int(source.name)

        def speech_failed(reason: str) -> Exception:
            return SpeechError(f"timeline[{index}]: the synthesized speech cannot be decoded ({reason})")

        return inputs.speech_paths[index], speech_failed

    def asset_failed(reason: str) -> Exception:
        return AssetError(source.name, reason)

    return (inputs.video_path if source.kind == "video" else inputs.asset_paths[source.name]), asset_failed


# --- voices -----------------------------------------------------------------------------------


def _voices(spec: JobSpec, speech: Synthesizer) -> tuple[VoiceUsed, ...]:
    """The voice that spoke each TTS event."""
    voices = []
    for index, event in enumerate(spec.timeline):
        if isinstance(event, TtsEvent):
            engine, voice = speech.voice_used(speech_request(event.data))
            voices.append(VoiceUsed(index, event.data.providerConfig.voiceId, engine, voice))
    return tuple(voices)


def _substitutions(spec: JobSpec, voices: Sequence[VoiceUsed]) -> list[RenderWarning]:
    """One warning per Polly voice that a local engine stood in for, naming its events."""
    events: dict[tuple[str, str, str], list[int]] = {}
    for used in voices:
        event = spec.timeline[used.event_index]
        assert isinstance(event, TtsEvent)
        if event.data.provider == "aws-polly" and not used.engine.startswith("polly"):
            events.setdefault((used.requested, used.engine, used.voice), []).append(used.event_index)
    return [
        RenderWarning(
            VOICE_SUBSTITUTED,
            f"{', '.join(f'timeline[{i}]' for i in indexes)}: the Polly voice '{requested}' is not "
            f"available here (no Polly configured); {engine} voice '{voice}' spoke instead",
        )
        for (requested, engine, voice), indexes in events.items()
    ]
