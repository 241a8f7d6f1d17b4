"""The CLIP inference engine: embed every image once, then every zero-shot experiment from the cache.

Modules, one stage each:

* :mod:`~geoclip_utils.engine.models` — loading a CLIP-family model (prefixes choose the backend in
  :mod:`~geoclip_utils.engine.backends`: openai, open_clip, hf) and the backend-neutral encoders;
* :mod:`~geoclip_utils.engine.images` — id lists, image files, robust decoding, the torch Dataset;
* :mod:`~geoclip_utils.engine.settings` — the settings record of a cache (what changes the features);
* :mod:`~geoclip_utils.engine.cache` — the embedding cache (chunks, manifest, lock, the one writer, readers);
* :mod:`~geoclip_utils.engine.shards` — WebDataset tar shards: patterns, format check, streamed pieces,
  coordinates (reads files only);
* :mod:`~geoclip_utils.engine.units` — units of work, the decode and encode steps, the piece assembler;
* :mod:`~geoclip_utils.engine.readers` — the inputs (a folder and ids, tar shards) as units of work;
* :mod:`~geoclip_utils.engine.runner` — the one embedding driver (:func:`~geoclip_utils.engine.runner.embed`)
  and the local distributor;
* :mod:`~geoclip_utils.engine.distributed` — the Ray distributor (optional ``scale`` extra, imported lazily);
* :mod:`~geoclip_utils.engine.text` — prompt features, cached per model;
* :mod:`~geoclip_utils.engine.prompts` — templates and region phrases;
* :mod:`~geoclip_utils.engine.zeroshot` — scoring: flat, region, two-stage, mixed, predictions tables;
* :mod:`~geoclip_utils.engine.synthetic` — synthetic pictures for demos, tests and benchmarks, the demo set.

The pipeline the Running CLIP and Climate chapters run is that chapter's study,
:mod:`geoclip_utils.studies.running_clip`.

Importing this package imports torch and ``clip``. The names below are the public API.
"""

from .cache import cache_manifest, load_embeddings, load_report, model_cache_dir
from .images import read_ids
from .models import ModelInfo, architecture_clip, load_model, pick_device, save_tiny_clip, tiny_clip
from .prompts import CLIMATE_TEMPLATE, MIXED_PHRASES, PAPER_TEMPLATE, REGION_TEMPLATE, paper_template
from .readers import FolderInput, ShardInput
from .runner import EmbedOptions, EmbedSummary, LocalDistributor, default_workers, embed, embed_images
from .settings import EmbedSettings
from .synthetic import DemoSet, make_demo_images, synthetic_image, synthetic_photos
from .text import encode_texts
from .zeroshot import (
    LOGIT_SCALE,
    classify_flat,
    classify_mixed,
    classify_two_stage,
    probabilities,
    run_experiment,
)

__all__ = [
    "CLIMATE_TEMPLATE",
    "LOGIT_SCALE",
    "MIXED_PHRASES",
    "PAPER_TEMPLATE",
    "REGION_TEMPLATE",
    "DemoSet",
    "EmbedOptions",
    "EmbedSettings",
    "EmbedSummary",
    "FolderInput",
    "LocalDistributor",
    "ModelInfo",
    "ShardInput",
    "architecture_clip",
    "cache_manifest",
    "classify_flat",
    "classify_mixed",
    "classify_two_stage",
    "default_workers",
    "embed",
    "embed_images",
    "encode_texts",
    "load_embeddings",
    "load_model",
    "load_report",
    "make_demo_images",
    "model_cache_dir",
    "paper_template",
    "pick_device",
    "probabilities",
    "read_ids",
    "run_experiment",
    "save_tiny_clip",
    "synthetic_image",
    "synthetic_photos",
    "tiny_clip",
]
