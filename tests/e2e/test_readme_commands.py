"""The README's commands work as written on a fresh clone: every command of its "Quick start" and
"Render from the command line" sections is read from the README and run in a clone of this
repository, as a newcomer would type it.

The clone's ``.venv`` is a stand-in for the one ``make install`` builds (its ``python`` and
``autovid`` run this interpreter with the clone's ``src`` first), so the test needs no network;
the stamp ``make install`` leaves makes ``make`` treat it as installed. ``make test`` is the
command that runs this very test, so it is checked as a dry run: it must lint and run pytest.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autovid.render.media import probe

REPO_ROOT = Path(__file__).resolve().parents[2]
README = REPO_ROOT / "README.md"
EXAMPLE_MEDIA = {"test_pattern.mp4", "music_a.mp3", "music_b.mp3", "whoosh.wav", "blip.wav"}


def readme_commands(section: str) -> list[str]:
    """The shell commands of a README section's ``sh`` blocks, comments removed."""
    body = README.read_text().split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", body, re.S):
        for line in block.splitlines():
            command = re.sub(r"\s+#.*$", "", line).strip()
            if command:
                commands.append(command)
    return commands


def fresh_clone(tmp_path: Path, name: str) -> tuple[Path, dict[str, str]]:
    if shutil.which("git") is None or not (REPO_ROOT / ".git").exists():
        pytest.skip("needs git and a git checkout of the repository")
    clone = tmp_path / name
    subprocess.run(["git", "clone", "--quiet", str(REPO_ROOT), str(clone)], check=True, timeout=60)
    bin_dir = clone / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for program, args in (("python", '"$@"'), ("autovid", '-m autovid "$@"')):
        shim = bin_dir / program
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" {args}\n')
        shim.chmod(0o755)
    (clone / ".venv" / ".installed").touch()  # newer than pyproject.toml: make installs nothing
    # a fresh shell: none of our settings, nor the make running this suite (MAKELEVEL, MAKEFLAGS)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTOVID_", "PYTHON", "MAKE", "MFLAGS"))}
    env.update(
        PYTHONPATH=str(clone / "src"),
        HOME=str(tmp_path / "home"),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        AUTOVID_TTS_ENGINE="espeak",
    )
    return clone, env


def run(command: str, clone: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ["bash", "-c", command], cwd=clone, env=env, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, f"`{command}` exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


def untracked(clone: Path) -> set[str]:
    status = subprocess.run(
        ["git", "status", "--porcelain", "--ignored", "--untracked-files=normal"],
        cwd=clone,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    paths = {line[3:].rstrip("/") for line in status.splitlines()}
    return {path for path in paths if not path.endswith("__pycache__")}  # the stand-in's bytecode


def test_quick_start_commands(tmp_path: Path) -> None:
    commands = readme_commands("Quick start")
    assert commands == ["make demo", "make test"]
    clone, env = fresh_clone(tmp_path, "quick-start")
    demo = run("make demo", clone, env)
    output = clone / "out" / "welcome.mp4"
    assert demo.stdout.strip().splitlines()[-1] == str(output)
    info = probe(output)
    assert info.video is not None and info.audio is not None and abs((info.duration_s or 0) - 14.0) < 0.2
    assert {p.name for p in (clone / "examples" / "media").iterdir()} == EXAMPLE_MEDIA
    plan = run("make --dry-run test", clone, env).stdout
    assert "ruff check" in plan and "pytest" in plan


def test_render_from_the_command_line_commands(tmp_path: Path) -> None:
    commands = readme_commands("Render from the command line")
    assert any(c.startswith(".venv/bin/autovid render ") for c in commands), commands
    clone, env = fresh_clone(tmp_path, "render")
    outputs = [run(command, clone, env) for command in commands]
    assert all(o.returncode == 0 for o in outputs)
    info = probe(clone / "out" / "welcome.mp4")
    assert info.video is not None and info.audio is not None
    assert (clone / "spec.schema.json").read_text() == (clone / "docs" / "spec.schema.json").read_text()
    # nothing beside the user's files but what the commands were asked for (and the stand-in venv)
    assert untracked(clone) == {".venv", "examples/media", "out", "spec.schema.json"}
    assert any((tmp_path / "cache" / "autovid").rglob("*.*")), "the speech cache is in XDG_CACHE_HOME"
