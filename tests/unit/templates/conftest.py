"""A small template over a valid spec, built fresh for each test."""

from __future__ import annotations

import copy
from typing import Any

import pytest

BASE_SPEC: dict[str, Any] = {
    "assets": {
        "video": {"id": "v", "source": "media/clip.mp4"},
        "audio": [{"id": "music", "source": "media/music.mp3"}],
    },
    "backgroundMusic": {"playlist": ["music"], "volume": "{{musicVolume}}"},
    "timeline": [
        {
            "start": 0.5,
            "type": "tts",
            "data": {
                "text": "<speak>Hi {{firstName}}, welcome to {{company}}.</speak>",
                "provider": "espeak-ng",
                "providerConfig": {"textType": "ssml"},
            },
        },
        {"start": 2, "type": "tts", "data": {"text": "Plain: {{firstName}}", "provider": "espeak-ng"}},
    ],
    "output": {"filename": "hello-{{firstName}}.mp4"},
}
BASE_VARIABLES: dict[str, Any] = {
    "firstName": {"type": "string", "required": True, "maxLength": 40},
    "company": {"type": "string", "default": "your team"},
    "musicVolume": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.3},
}


def document(spec: dict[str, Any] | None = None, **variables: Any) -> dict[str, Any]:
    """The base template, with ``spec`` instead of the base spec and ``variables`` added/replaced."""
    return {
        "name": "welcome",
        "variables": {**copy.deepcopy(BASE_VARIABLES), **variables},
        "spec": copy.deepcopy(spec if spec is not None else BASE_SPEC),
    }


@pytest.fixture
def base() -> dict[str, Any]:
    return document()
