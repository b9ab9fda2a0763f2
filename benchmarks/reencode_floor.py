"""The re-encode floor: a minimal PyAV transcode with the job's libx264 settings, in its own process.

What any PyAV program re-encoding the job must at least do: decode the video (FFmpeg's threaded
decoder), encode it once with PyAV's own libx264 at the same preset and bitrate, and mux it with a
ready AAC track copied as it is. No mixing, no checks, decode and encode on one thread.

    python benchmarks/reencode_floor.py VIDEO AUDIO.m4a OUT.mp4 --bitrate 4000000 --preset medium
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import av


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video", type=Path)
    parser.add_argument("audio", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--bitrate", type=int, required=True, help="video bits per second")
    parser.add_argument("--preset", default="medium")
    args = parser.parse_args(argv)
    transcode(args.video, args.audio, args.output, bitrate=args.bitrate, preset=args.preset)
    return 0


def transcode(video: Path, audio: Path, output: Path, *, bitrate: int, preset: str) -> None:
    with (
        av.open(str(video)) as video_in,
        av.open(str(audio)) as audio_in,
        av.open(str(output), "w", format="mp4", options={"movflags": "+faststart"}) as out,
    ):
        in_video = video_in.streams.video[0]
        in_video.thread_type = "AUTO"
        out_video = out.add_stream("libx264", rate=in_video.average_rate)
        out_video.width, out_video.height = in_video.codec_context.width, in_video.codec_context.height
        out_video.pix_fmt = "yuv420p"
        out_video.codec_context.time_base = in_video.time_base
        out_video.options = {"preset": preset}
        out_video.codec_context.thread_type = "AUTO"  # libx264's frame threads, not PyAV's slices
        out_video.bit_rate = bitrate
        in_audio = audio_in.streams.audio[0]
        out_audio = out.add_stream_from_template(in_audio)
        for packet in audio_in.demux(in_audio):  # the whole track first: the muxer interleaves
            if packet.dts is not None:
                packet.stream = out_audio
                out.mux(packet)
        for frame in video_in.decode(in_video):
            frame.pict_type = 0  # let x264 choose frame types
            out.mux(out_video.encode(frame))
        out.mux(out_video.encode(None))


if __name__ == "__main__":
    sys.exit(main())
