"""Inference: frame sources, person detection/tracking, crops and batched estimation, the frame stream, and the
result files. The public entry point is the ``smplerx`` package (``smplerx.load(...)``); modules here are
imported explicitly (this package imports nothing on its own)."""
