"""Caption commands: ``count-captions`` (label frequencies in caption files)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import ConfigError, InputError
from .app import app


@app.command("count-captions")
def count_captions_cmd(
    captions: Annotated[
        list[Path] | None,
        typer.Option(
            "--captions",
            help="caption files: text (one per line; plain, gzip, bz2, xz or zstd) or Parquet; give several after one "
            "--captions or repeat the option",
        ),
    ] = None,
    more: Annotated[list[Path] | None, typer.Argument(help="more caption files", show_default=False)] = None,
    labels: Annotated[
        Path | None, typer.Option(help="labels file: one per line, or a CSV with a 'label' column")
    ] = None,
    mode: Annotated[
        str,
        typer.Option(
            help="phrase (whole-word phrase match), tokens (the authors' CLIP token-set rule) or "
            "substring (the authors' substring rule)"
        ),
    ] = "phrase",
    out: Annotated[Path | None, typer.Option(help="output JSON file: {label: count}")] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="worker processes (default: all CPUs)")] = None,
    caption_column: Annotated[
        str | None, typer.Option(help="caption column of Parquet inputs [default: caption]")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar")] = False,
) -> None:
    """Count the captions that mention each label; write {label: count} as JSON (atomically)."""
    from ..captions import count_captions_report, read_labels
    from ..captions.runner import counts_json

    files = list(captions or []) + list(more or [])
    if not files:
        raise ConfigError("no caption files: pass --captions FILE [FILE ...]")
    if labels is None:
        raise ConfigError("no labels: pass --labels FILE")
    if out is None:
        raise ConfigError("no output: pass --out counts.json")
    from ..io.outputs import check_output
    from ..io.sources import open_input

    target = check_output(out, [*files, labels])
    if caption_column is not None and not any(
        open_input(f, "caption file", kinds=("text", "parquet")).kind == "parquet" for f in files
    ):
        raise ConfigError("--caption-column is used for Parquet inputs only, and none was given; drop it")
    rep = count_captions_report(
        files,
        read_labels(labels),
        mode=mode,
        workers=workers,
        progress=not quiet,
        caption_column=caption_column or "caption",
    )
    if rep.n_captions == 0:  # a run that counted nothing is an error, not a file of zeros
        shown = ", ".join(map(str, files[:3])) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
        raise InputError(
            f"no caption to count in {shown}: {rep.n_lines} lines read, {rep.n_empty} of them empty; "
            f"give files with one caption per line (no output written)"
        )
    target.write(lambda fh: fh.write(counts_json(rep.counts).encode("utf-8")))
    typer.echo(
        f"{rep.n_captions} captions ({rep.n_empty} empty lines skipped), {len(rep.counts)} labels, "
        f"{sum(1 for v in rep.counts.values() if v)} found; wrote {target}",
        err=target.stdout,
    )
