"""The repository's example job (``examples/welcome.spec.json``) and its media.

The media are not in the repository: ``autovid.samples`` makes them (a test pattern, two music
loops, two effects; no downloads) on first use — by ``autovid examples``, by any command given the
example spec, and by ``make demo``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_SPEC = "welcome.spec.json"


def example_dirs() -> list[Path]:
    """The example folders this installation knows: the current folder's, then the repository's."""
    found: list[Path] = []
    for candidate in (Path.cwd() / "examples", REPO_ROOT / "examples"):
        resolved = candidate.resolve()
        if (resolved / EXAMPLE_SPEC).is_file() and resolved not in found:
            found.append(resolved)
    return found


def _makers() -> dict[str, Callable[[Path], object]]:
    from autovid import samples  # PyAV and numpy load only when media is made

    return {
        "test_pattern.mp4": lambda p: samples.make_video(p, duration_s=14.0, width=640, height=360, fps=30),
        "music_a.mp3": lambda p: samples.make_music_loop(p, duration_s=8.0, bpm=110, seed=1),
        "music_b.mp3": lambda p: samples.make_music_loop(p, duration_s=8.0, bpm=124, seed=2),
        "whoosh.wav": lambda p: samples.make_effect(p, "whoosh"),
        "blip.wav": lambda p: samples.make_effect(p, "blip"),
    }


EXAMPLE_MEDIA = ("test_pattern.mp4", "music_a.mp3", "music_b.mp3", "whoosh.wav", "blip.wav")


def ensure_example_media(media_dir: Path, on_make: Callable[[Path], None] = lambda path: None) -> list[Path]:
    """Make each missing example file in ``media_dir`` (written aside, then renamed, so an
    interrupted run leaves no half file); return the files made."""
    missing = [media_dir / name for name in EXAMPLE_MEDIA if not (media_dir / name).is_file()]
    if not missing:
        return []
    makers = _makers()
    media_dir.mkdir(parents=True, exist_ok=True)
    for path in missing:
        on_make(path)
        partial = path.with_name(f".{path.stem}.part{path.suffix}")
        makers[path.name](partial)
        partial.replace(path)
    return missing


def ensure_for_spec(spec_path: Path, on_make: Callable[[Path], None] = lambda path: None) -> list[Path]:
    """When ``spec_path`` is in an example folder, make that folder's missing media."""
    folder = spec_path.resolve().parent
    if folder not in example_dirs():
        return []
    return ensure_example_media(folder / "media", on_make)
