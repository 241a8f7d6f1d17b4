"""The ``geoclip`` typer apps and the command line's error contract.

Every command module registers its commands on these apps with decorators: ``@app.command("name")`` for a
command, ``@bench_app.command("name")`` for a benchmark.

The contract (for every command, enforced once, here): a user error prints **one line**, ``error: …``, on
stderr and exits with status 2 — a :class:`~geoclip_utils.errors.GeoclipError` (bad input, data, parameter),
an environment error (a folder that cannot be created or written, a read-only or misplaced cache:
``OSError``, naming the file), or a usage error (unknown option, a value the option itself refuses). Nothing
else is printed. A reader that closes the output pipe (``geoclip geocode … --out - | head``) stops the command
quietly (click's own handling: status 1, no message).
"""

from __future__ import annotations

import sys

import typer
from typer.core import TyperGroup

try:  # typer >= 0.22 ships its own copy of click
    from typer._click import exceptions as _cx
except ImportError:  # pragma: no cover - older typer on top of click
    from click import exceptions as _cx

from ..errors import GeoclipError


def _os_message(exc: OSError) -> str:
    where = f": {exc.filename}" if getattr(exc, "filename", None) else ""
    what = exc.strerror or str(exc)
    return f"{what}{where}"


class GeoclipGroup(TyperGroup):
    """A typer group whose ``main`` turns every user error into one line and exit status 2."""

    def main(self, *args, standalone_mode: bool = True, **kwargs):  # noqa: D102 - see the class docstring
        try:
            rv = super().main(*args, standalone_mode=False, **kwargs)
        except _cx.NoArgsIsHelpError as exc:
            typer.echo(exc.ctx.get_help() if exc.ctx else exc.format_message())
            rv = 0
        except _cx.UsageError as exc:
            return self._fail(exc.format_message(), standalone_mode, exc)
        except GeoclipError as exc:
            return self._fail(str(exc), standalone_mode, exc)
        except OSError as exc:
            return self._fail(_os_message(exc), standalone_mode, exc)
        except typer.Abort:
            if not standalone_mode:
                raise
            typer.echo("aborted", err=True)
            sys.exit(130)
        if not standalone_mode:
            return rv
        sys.exit(rv if isinstance(rv, int) else 0)

    @staticmethod
    def _fail(message: str, standalone_mode: bool, exc: BaseException):
        one_line = " ".join(message.split())
        typer.echo(f"error: {one_line}", err=True)
        if not standalone_mode:
            raise typer.Exit(2) from exc
        sys.exit(2)


app = typer.Typer(
    cls=GeoclipGroup,
    help="geoclip — how well does CLIP geolocate street-level photos? Tools behind the geoclip book.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
bench_app = typer.Typer(help="Benchmarks; each prints one JSON object.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")
