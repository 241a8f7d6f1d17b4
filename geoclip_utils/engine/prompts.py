"""Prompts: the paper's templates, the region and climate templates, mixed region phrases, ensembles' inputs.

* the paper's template ``"This is a photo of {label}, a {kind}"`` (:func:`paper_template`), ``{kind}``
  from the experiment registry (country, state, French state, city, American city);
* region stage: ``"This is a photo of {label}, a region"`` (our choice: the authors' region run is
  not in their repository);
* mixed prompts (:func:`mixed_prompts`): ``"This is a photo of {country}, {phrase}."`` with the region
  phrases of the authors' ``prompt_engineering.py`` (:data:`MIXED_PHRASES`), e.g.
  ``"This is a photo of Latvia, a european country in the baltic."``;
* climate: ``"This is a photo of a place with a {label} climate"`` with the Köppen prompt phrases.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence

from ..errors import ConfigError, InputError

__all__ = [
    "PAPER_TEMPLATE",
    "REGION_TEMPLATE",
    "CLIMATE_TEMPLATE",
    "MIXED_PHRASES",
    "paper_template",
    "validate_templates",
    "format_prompts",
    "mixed_prompts",
]


#: The paper's prompt; ``{kind}`` is filled from the label set's ``prompt_kind`` (:class:`geoclip_utils.experiments.LabelSet`).
PAPER_TEMPLATE = "This is a photo of {label}, a {kind}"


#: The region-stage prompt (our choice; see the module docstring).
REGION_TEMPLATE = "This is a photo of {label}, a region"


#: Climate prompt (our choice: the authors' climate run and its prompt are not in their repository);
#: ``{label}`` is the class's prompt phrase from ``resources/koppen.csv`` (e.g. "tropical rainforest").
CLIMATE_TEMPLATE = "This is a photo of a place with a {label} climate"


#: Region phrase of the mixed prompts, by region of the authors' ``region_to_country`` map
#: (from their ``notebooks/prompt_engineering.py``; "europe", "africa", "asia" had no phrase there).
MIXED_PHRASES: dict[str, str] = {
    "caribbean": "an island country in the caribbean",
    "greenland": "a country in the arctic",
    "baltic": "a european country in the baltic",
    "balkan": "a european country in the balkans",
    "western europe": "a western european country",
    "southern europe": "a southern european country",
    "eastern europe": "an eastern european country",
    "northern europe": "a northern european country",
    "middle east": "a country in the middle east",
    "north africa": "a country in north africa",
    "west africa": "a country in west africa",
    "east africa": "a country in east africa",
    "central africa": "a country in central africa",
    "southern africa": "a country in southern africa",
    "sub-saharan africa": "a country in sub-saharan africa",
    "central asia": "a country in central asia",
    "east asia": "a country in east asia",
    "south asia": "a country in south asia",
    "far east asia": "a country in far east asia",
    "south east asia": "a country in south east asia",
    "western asia": "a country in western asia",
    "oceania": "a country in oceania",
    "polynesia": "an island country in polynesia",
    "micronesia": "an island country in micronesia",
    "north america": "a country in north america",
    "south america": "a country in south america",
    "central america": "a country in central america",
    "latin america": "a country in latin america",
}


def paper_template(kind: str) -> str:
    """The paper's prompt for a label kind: ``"This is a photo of {label}, a <kind>"``.

    Example
    -------
    >>> paper_template("country").format(label="France")
    'This is a photo of France, a country'
    """
    return PAPER_TEMPLATE.replace("{kind}", kind)


def validate_templates(templates: Sequence[str] | str) -> list[str]:
    """Check prompt templates: each has a ``{label}`` field and only ``{label}`` / ``{kind}`` fields.

    Raises
    ------
    ConfigError
        Naming the template.

    Example
    -------
    >>> validate_templates("a photo of {label}.")
    ['a photo of {label}.']
    """
    if isinstance(templates, str):
        templates = [templates]
    templates = list(templates)
    if not templates:
        raise ConfigError("no prompt template given")
    for t in templates:
        try:
            fields = {f for _, f, _, _ in string.Formatter().parse(t) if f is not None}
        except ValueError as exc:
            raise ConfigError(f"template {t!r} is not a valid format string ({exc})") from exc
        if "label" not in fields:
            raise ConfigError(
                f"template {t!r} has no {{label}} field; e.g. 'This is a photo of {{label}}, a country'"
            )
        extra = fields - {"label", "kind"}
        if extra:
            raise ConfigError(
                f"template {t!r} has unknown fields {sorted(extra)}; only {{label}} and {{kind}} exist"
            )
    return templates


def format_prompts(
    labels: Sequence[str], template: str, kind: str = "", label_text: Mapping[str, str] | None = None
) -> list[str]:
    """Fill one template for every label; ``label_text`` maps a label to the words put in the prompt
    (e.g. a Köppen code to its phrase), labels missing from it stand for themselves."""
    label_text = label_text or {}
    return [template.format(label=label_text.get(lab, lab), kind=kind) for lab in labels]


def mixed_prompts(
    region_map: Mapping[str, Sequence[str]], phrases: Mapping[str, str] = MIXED_PHRASES
) -> tuple[list[str], list[str]]:
    """The authors' mixed prompts: ``"This is a photo of {country}, {phrase}."`` per (region, country).

    Regions without a phrase are left out (as in the authors' script); a prompt produced twice is kept
    once. The label of a prompt is the country name up to its first comma (as theirs).

    Returns
    -------
    prompts : list of str; prompt_labels : the country of each prompt.

    Example
    -------
    >>> mixed_prompts({"baltic": ["Latvia"]})
    (['This is a photo of Latvia, a european country in the baltic.'], ['Latvia'])
    """
    out: dict[str, str] = {}
    for region, phrase in phrases.items():
        for country in region_map.get(region, []):
            out.setdefault(f"This is a photo of {country}, {phrase.strip()}.", country.split(",")[0])
    if not out:
        raise InputError("no mixed prompt: the region map has none of the regions with a phrase")
    return list(out), list(out.values())
