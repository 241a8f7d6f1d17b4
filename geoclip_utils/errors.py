"""The exception hierarchy of geoclip_utils.

Every error a user can cause (bad input file, missing data, wrong parameter) is a
:class:`GeoclipError`, so the CLI can print its message and exit with status 2 instead
of a traceback. Messages name the file, row and value involved and say what to do.
"""

from __future__ import annotations


class GeoclipError(Exception):
    """Base class of every error geoclip_utils raises on purpose.

    In a notebook (a chapter run by papermill or Jupyter) it shows as one line, ``ConfigError: message``,
    not as a traceback: the message is what the reader needs, the stack is not.
    """

    def _render_traceback_(self) -> list[str]:  # IPython's hook for custom tracebacks
        return [f"{type(self).__name__}: {self}"]


class DataError(GeoclipError):
    """A data file is missing, corrupt, fails its hash check or has unexpected content."""


class ConfigError(GeoclipError):
    """A parameter, option or environment variable has an invalid value."""


class InputError(GeoclipError):
    """A user-supplied input file (coordinates, labels, images, captions) is malformed."""
