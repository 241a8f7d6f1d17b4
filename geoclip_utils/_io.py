"""Atomic writes and the output policy — kept under this name for the modules that import it; everything
lives in :mod:`geoclip_utils.io.outputs` (see its docstring for the rules)."""

from __future__ import annotations

from .io import outputs as _outputs
from .io.outputs import *  # noqa: F403 - the same names, one definition

__all__ = _outputs.__all__
