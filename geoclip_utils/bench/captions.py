"""Benchmark of the caption counter against the authors' approach (``geoclip bench captions``).

One run: generate a caption file of realistic-looking captions (products, stock photos, travel
pictures naming places, long keyword lists, non-ASCII text, HTML entities, empty lines), time the
authors' per-caption loop (``clip.tokenize`` per caption, ``set``, ``issubset`` per label — as in
``notebooks/label_counts_tokens.py``) on a subset, time :func:`~geoclip_utils.captions.count_captions`
on the whole file in both modes, and check that our ``tokens`` counts equal the authors' loop on the
subset. The result is one JSON-serialisable dict.
"""

from __future__ import annotations

import os
import platform
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from ..captions import count_captions_report
from ..captions.synthetic import COUNTRIES, generate_captions
from ..errors import ConfigError
from ..reference import authors_substring_counts, authors_token_counts


def run_caption_benchmark(
    n_captions: int = 1_000_000,
    seed_subset: int = 20_000,
    workers: int | None = None,
    labels: Sequence[str] | None = None,
    seed: int = 0,
    workdir: str | os.PathLike | None = None,
    place_rate: float = 0.16,
) -> dict:
    """Generate captions, time the authors' loop and our counter, check equality; return one dict.

    Parameters
    ----------
    n_captions : int
        Lines in the generated file (our counter runs on all of them).
    seed_subset : int
        The authors' loop is timed on the first ``seed_subset`` lines only (it is slow); our tokens
        counts on the same lines are compared with it.
    workers : int, optional
        Worker processes for our counter (default: all CPUs).
    labels : sequence of str, optional
        Labels (default: the paper's 115 countries).
    seed : int
        Generator seed.
    workdir : path, optional
        Where to write the files (default: a temporary folder, removed afterwards).
    place_rate : float
        Share of generated captions naming a label (see :func:`generate_captions`).

    Returns
    -------
    dict
        Throughputs (captions per second), speed-ups, the equality check and the setup.

    Raises
    ------
    ConfigError
        Non-positive sizes.

    Example
    -------
    >>> out = run_caption_benchmark(n_captions=50_000, seed_subset=2_000)  # doctest: +SKIP
    >>> out["tokens_equal_authors_on_subset"]  # doctest: +SKIP
    True
    """
    if n_captions < 1 or seed_subset < 1:
        raise ConfigError("n_captions and seed_subset must be positive")
    if not 0 <= place_rate <= 0.5:
        raise ConfigError(f"place_rate must be in [0, 0.5], got {place_rate}")
    seed_subset = min(seed_subset, n_captions)
    labels = list(labels or COUNTRIES)
    n_cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        full = Path(tmp) / "captions.txt"
        t0 = time.perf_counter()
        generate_captions(full, n_captions, labels, seed=seed, place_rate=place_rate)
        gen_s = time.perf_counter() - t0
        subset = Path(tmp) / "subset.txt"
        with open(full, "rb") as src, open(subset, "wb") as dst:
            for i, line in enumerate(src):
                if i >= seed_subset:
                    break
                dst.write(line)

        authors_token_counts(subset, labels[:1])  # warm-up: import torch/clip outside the timing
        t0, c0 = time.perf_counter(), time.process_time()
        seed_counts = authors_token_counts(subset, labels)
        seed_s, seed_cpu = time.perf_counter() - t0, time.process_time() - c0
        seed_rate = seed_subset / seed_s
        seed_cpu_rate = seed_subset / seed_cpu

        ours_subset = count_captions_report(subset, labels, mode="tokens", workers=1, progress=False).counts
        mismatches = {k: [seed_counts[k], ours_subset[k]] for k in labels if seed_counts[k] != ours_subset[k]}
        t0 = time.perf_counter()
        sub_seed = authors_substring_counts(subset, labels)
        sub_seed_s = time.perf_counter() - t0
        sub_ours = count_captions_report(subset, labels, mode="substring", workers=1, progress=False).counts

        def timed(mode: str, w: int | None) -> dict:
            t, c = time.perf_counter(), time.process_time()
            rep = count_captions_report(full, labels, mode=mode, workers=w, progress=False)
            s, cpu = time.perf_counter() - t, time.process_time() - c
            extra = {}
            if w == 1:  # all the work is in this process: CPU time is robust to a busy machine
                extra = {
                    "cpu_seconds": round(cpu, 3),
                    "captions_per_cpu_s": round(rep.n_lines / cpu),
                    "cpu_speedup_vs_authors_tokens_loop": round(rep.n_lines / cpu / seed_cpu_rate, 1),
                }
            return {
                "workers": w if w is not None else n_cpus,
                "seconds": round(s, 3),
                "captions_per_s": round(rep.n_lines / s),
                "speedup_vs_authors_tokens_loop": round(rep.n_lines / s / seed_rate, 1),
                "mentions": sum(rep.counts.values()),
                **extra,
            }

        tokens = timed("tokens", workers)
        tokens_1 = timed("tokens", 1)
        phrase = timed("phrase", workers)
        phrase_1 = timed("phrase", 1)
        substring = timed("substring", workers)
        substring["speedup_vs_authors_substring_loop"] = round(
            substring["captions_per_s"] / (seed_subset / sub_seed_s), 1
        )
        file_bytes = full.stat().st_size
    return {
        "benchmark": "captions",
        "n_captions": n_captions,
        "file_bytes": file_bytes,
        "n_labels": len(labels),
        "place_rate": place_rate,
        "generate_seconds": round(gen_s, 2),
        "machine": {"cpus": n_cpus, "python": platform.python_version(), "platform": platform.platform()},
        "authors_loop": {
            "method": "clip.tokenize per caption + set + issubset per label (label_counts_tokens.py), "
            "1 process, timed on the first lines of the file only",
            "captions_timed": seed_subset,
            "seconds": round(seed_s, 3),
            "captions_per_s": round(seed_rate),
            "cpu_seconds": round(seed_cpu, 3),
            "captions_per_cpu_s": round(seed_cpu_rate),
        },
        "tokens": tokens,
        "tokens_1_worker": tokens_1,
        "phrase": phrase,
        "phrase_1_worker": phrase_1,
        "substring": substring,
        "tokens_equal_authors_on_subset": not mismatches,
        "subset_mismatches": mismatches,
        "substring_equal_authors_on_subset": sub_seed == sub_ours,
        "authors_substring_loop_captions_per_s": round(seed_subset / sub_seed_s),
        "note": "wall-clock throughputs include process start-up and file reading; the authors' rate "
        f"is from {seed_subset} captions, ours from all {n_captions}; cpu_* figures (1 process) do not "
        "depend on other load on the machine",
    }
