"""Kept so that `python setup.py ...` and old pip keep working; metadata is in pyproject.toml."""
from setuptools import setup

setup()
