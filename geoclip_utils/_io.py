"""Atomic writes and the output policy — kept under this name for the modules that import it; everything
lives in :mod:`geoclip_utils.io.outputs` (see its docstring for the rules)."""

from __future__ import annotations

from .io.outputs import (
    TEMP_SUFFIX,
    Output,
    atomic_write,
    check_output,
    sha256_of,
    write_bytes,
    write_csv,
    write_json,
    write_npz,
    write_text,
)

__all__ = [
    "TEMP_SUFFIX",
    "Output",
    "atomic_write",
    "check_output",
    "sha256_of",
    "write_bytes",
    "write_csv",
    "write_json",
    "write_npz",
    "write_text",
]
