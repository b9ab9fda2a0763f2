"""Captions: cue building (pure), SRT/WebVTT files, and the drawing of burned-in captions."""
