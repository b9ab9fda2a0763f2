"""Render benchmarks: autovid against a MoviePy 2 reference and the bare AAC-encode floor.

Run ``python benchmarks/render.py --help``. Figures land in ``docs/PERFORMANCE.md``.
"""
