"""Builds the optional C part of the rule index; everything else is in pyproject.toml.

``optional=True``: without a C compiler the install goes on, and the index uses the
same code in Python (``bot/rules/speedups.py`` says where).
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("bot.rules._speedups", ["bot/rules/_speedups.c"], optional=True)])
