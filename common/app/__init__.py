"""The web demo (``main/app.py``): a Gradio page over the public API (``smplerx``); no inference code of its own."""
