"""Expectation suites shipped with revops (YAML), one file per suite.

A folder set as ``[quality] suites_dir`` overrides them: a file with the same name replaces the
shipped suite, any other file adds a suite. See ``docs/quality.md`` for the file format.
"""
