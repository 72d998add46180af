"""Stand-in model tests.

A package so that this folder's ``conftest`` does not replace ``tests/conftest.py`` in
``sys.modules``, which the top-level tests import from.
"""
