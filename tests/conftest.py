"""The tests' shared fixtures live in the ``support`` package beside this file (``support/fixtures.py``);
tests import helpers from ``support``, never from here."""

pytest_plugins = ["support.fixtures"]
