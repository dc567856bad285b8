"""The worker's stages, one module each; ``app.py`` wires them to topics as faust agents."""
