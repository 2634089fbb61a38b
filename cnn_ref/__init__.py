"""Numpy reference CNN: the single source of every expected value."""
