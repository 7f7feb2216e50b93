"""modelshelf: keep machine-learning model files in order."""

__version__ = "0.1.0"
