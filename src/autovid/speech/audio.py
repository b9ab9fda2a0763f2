"""Joining the audio of several speech requests into one file, without re-encoding."""

from __future__ import annotations

import io
from collections.abc import Sequence
from fractions import Fraction

import av

from autovid.errors import SpeechError


def join_mp3(parts: Sequence[bytes]) -> bytes:
    """Concatenate MP3 streams packet for packet into one MP3 file with a correct header.

    Plain byte concatenation would play, but each part's Xing/LAME header would still describe
    only that part, and demuxers that trust it report the wrong duration.
    """
    if len(parts) == 1:
        return parts[0]
    out_buffer = io.BytesIO()
    try:
        with av.open(out_buffer, mode="w", format="mp3") as output:
            out_stream = None
            offset_s = Fraction(0)
            for index, part in enumerate(parts):
                with av.open(io.BytesIO(part), mode="r", format="mp3") as source:
                    in_stream = source.streams.audio[0]
                    if out_stream is None:
                        out_stream = output.add_stream_from_template(in_stream)
                    offset_s += _remux(source, in_stream, output, out_stream, offset_s, index)
    except av.FFmpegError as exc:
        raise SpeechError(f"could not join the speech audio parts: {exc}") from None
    return out_buffer.getvalue()


def _remux(
    source: av.container.InputContainer,
    in_stream: av.audio.stream.AudioStream,
    output: av.container.OutputContainer,
    out_stream: av.audio.stream.AudioStream,
    offset_s: Fraction,
    index: int,
) -> Fraction:
    """Copy one part's packets shifted by ``offset_s``; return the part's duration in seconds."""
    time_base = in_stream.time_base
    if time_base is None:
        raise SpeechError(f"speech audio part {index + 1} has no time base")
    offset = round(offset_s / time_base)
    end = 0
    for packet in source.demux(in_stream):
        if packet.pts is None:  # the demuxer's final flush packet
            continue
        end = max(end, packet.pts + (packet.duration or 0))
        packet.pts += offset
        packet.dts = packet.pts
        packet.stream = out_stream
        output.mux(packet)
    return Fraction(end) * time_base


def mp3_duration_s(data: bytes) -> float:
    """An MP3's length from its packets (no decode), as ``join_mp3`` lays the parts end to end."""
    try:
        with av.open(io.BytesIO(data), mode="r", format="mp3") as source:
            stream = source.streams.audio[0]
            if stream.time_base is None:
                raise SpeechError("the speech audio has no time base")
            end = max(
                (p.pts + (p.duration or 0) for p in source.demux(stream) if p.pts is not None), default=0
            )
            return float(Fraction(end) * stream.time_base)
    except av.FFmpegError as exc:
        raise SpeechError(f"the speech audio is not readable MP3: {exc}") from None
