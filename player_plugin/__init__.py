"""Segue: a local-first "play next" recommender that plugs into desktop music players."""

__version__ = "0.1.0"
