"""Shared foundations: settings, database, migrations, job queue, errors."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("klosesales")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+source"
