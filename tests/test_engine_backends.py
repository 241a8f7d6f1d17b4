"""Tests of the model backends (geoclip_utils.engine.backends): open_clip and transformers models give the
features the libraries themselves give, on tiny random models built here, offline."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from geoclip_utils.engine import cache as emb_cache
from geoclip_utils.engine import models, runner, text
from geoclip_utils.engine.backends import split_backend
from geoclip_utils.engine.backends.base import ModelInfo
from geoclip_utils.engine.settings import EmbedSettings, recorded_settings
from geoclip_utils.errors import ConfigError, DataError, InputError

ROOT = Path(__file__).resolve().parents[1]
TEXTS = ["This is a photo of Paris, a city", "x", "a photo of a street in Lagos"]
#: The largest difference allowed between our features and the library's (both float32, unit norm).
TOL = 1e-6


def _images(n: int = 3) -> list[Image.Image]:
    rng = np.random.default_rng(0)
    return [
        Image.fromarray(rng.integers(0, 255, (40 + 7 * i, 70 - 5 * i, 3), dtype=np.uint8)) for i in range(n)
    ]


def _unit(x) -> torch.Tensor:
    x = x if isinstance(x, torch.Tensor) else x.pooler_output  # transformers 5 returns a model output
    x = x.float()
    return x / x.norm(dim=-1, keepdim=True)


# --------------------------------------------------------------------------- tiny models, built offline
TINY_OPEN_CLIP = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 16, "head_width": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


@pytest.fixture(scope="module")
def open_clip_files(tmp_path_factory):
    """A tiny open_clip config (the real CLIP tokenizer, 77 tokens) and a weights file of it."""
    import open_clip

    d = tmp_path_factory.mktemp("oc")
    cfg = d / "tinyoc.json"
    cfg.write_text(json.dumps(TINY_OPEN_CLIP))
    open_clip.add_model_config(cfg)
    torch.manual_seed(1)
    model = open_clip.create_model("tinyoc", pretrained=None)
    weights = d / "tinyoc_weights.pt"
    torch.save(model.state_dict(), weights)
    return cfg, weights


def _clip_tokenizer():
    """A byte-level CLIP tokenizer with no merges: every byte is a token (any text tokenizes)."""
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import CLIPTokenizer

    chars = sorted(ByteLevel.alphabet())
    vocab = {c: i for i, c in enumerate(chars)}
    vocab.update({c + "</w>": len(chars) + i for i, c in enumerate(chars)})
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=[]), vocab


@pytest.fixture(scope="module")
def hf_clip_dir(tmp_path_factory):
    """A tiny transformers CLIPModel + CLIPProcessor, written with save_pretrained (as StreetCLIP is)."""
    import transformers as T

    d = tmp_path_factory.mktemp("hfclip") / "tinyclip"
    tok, vocab = _clip_tokenizer()
    eos, bos = vocab["<|endoftext|>"], vocab["<|startoftext|>"]
    layer = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=1, num_attention_heads=2)
    cfg = T.CLIPConfig(
        text_config=dict(
            vocab_size=len(vocab), max_position_embeddings=77, bos_token_id=bos, eos_token_id=eos, **layer
        ),
        vision_config=dict(image_size=30, patch_size=10, **layer),
        projection_dim=16,
    )
    torch.manual_seed(2)
    T.CLIPModel(cfg).save_pretrained(d)
    ip = T.CLIPImageProcessor(size={"shortest_edge": 30}, crop_size={"height": 30, "width": 30})
    T.CLIPProcessor(image_processor=ip, tokenizer=tok).save_pretrained(d)
    return d


@pytest.fixture(scope="module")
def hf_siglip_dir(tmp_path_factory):
    """A tiny SiglipModel with its image processor and a word-level tokenizer (16 positions)."""
    import transformers as T
    from tokenizers import Tokenizer, normalizers, pre_tokenizers
    from tokenizers import models as tm

    d = tmp_path_factory.mktemp("hfsig") / "tinysiglip"
    words = ["<pad>", "</s>", "<unk>", "a", "photo", "of", "paris", "x", "this", "is", "city", "street", "in"]
    tk = Tokenizer(tm.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    tk.normalizer = normalizers.Lowercase()
    tok = T.PreTrainedTokenizerFast(
        tokenizer_object=tk, pad_token="<pad>", eos_token="</s>", unk_token="<unk>", model_max_length=16
    )
    layer = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=1, num_attention_heads=2)
    cfg = T.SiglipConfig(
        text_config=dict(
            vocab_size=len(words), max_position_embeddings=16, bos_token_id=1, eos_token_id=1, **layer
        ),
        vision_config=dict(image_size=30, patch_size=10, **layer),
    )
    torch.manual_seed(3)
    T.SiglipModel(cfg).save_pretrained(d)
    T.SiglipImageProcessor(size={"height": 30, "width": 30}).save_pretrained(d)
    tok.save_pretrained(d)
    return d


def _offline_message(monkeypatch, owner, attribute: str, name: str) -> str:
    """The one-line ConfigError of loading ``name`` while ``owner.attribute`` fails as without network."""

    def offline(*a, **k):
        raise OSError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(owner, attribute, offline)
    with pytest.raises(ConfigError) as exc:
        models.load_model(name, device="cpu")
    assert "\n" not in str(exc.value)
    return str(exc.value)


# --------------------------------------------------------------------------- prefixes
def test_prefix_chooses_the_backend_and_no_prefix_is_openai():
    assert split_backend("ViT-L/14") == ("openai", "ViT-L/14")
    assert split_backend("openai:ViT-L/14") == ("openai", "ViT-L/14")
    assert split_backend("open_clip:ViT-B-32:laion2b_s34b_b79k") == (
        "open_clip",
        "ViT-B-32:laion2b_s34b_b79k",
    )
    assert split_backend("hf:/m/streetclip") == ("hf", "/m/streetclip")
    assert split_backend("C:/w/tiny.pt") == ("openai", "C:/w/tiny.pt")  # not a backend prefix
    # today's ids are unchanged, with or without the prefix
    assert models.load_model("openai:tiny", device="cpu")[2] == models.load_model("tiny", device="cpu")[2]


# --------------------------------------------------------------------------- open_clip
def test_open_clip_features_equal_the_librarys(open_clip_files):
    import open_clip

    cfg, weights = open_clip_files
    model, preprocess, model_id = models.load_model(f"open_clip:{cfg}:{weights}", device="cpu")
    ref, _, ref_pre = open_clip.create_model_and_transforms("tinyoc", pretrained=str(weights))
    ref.eval()
    tok = open_clip.get_tokenizer("tinyoc")
    ims = _images()
    ours = models.encode_image_batch(model, torch.stack([preprocess(im) for im in ims]))
    with torch.no_grad():
        theirs = _unit(ref.encode_image(torch.stack([ref_pre(im) for im in ims])))
    assert ours.shape == (3, 16) and ours.dtype == torch.float32
    assert (ours - theirs).abs().max().item() <= TOL
    with torch.no_grad():
        theirs_t = _unit(ref.encode_text(tok(TEXTS)))
    assert (models.encode_text_batch(model, TEXTS) - theirs_t).abs().max().item() <= TOL
    info = model.geoclip
    assert info.backend == "open_clip" and info.input_resolution == 32 and len(info.checksum) == 64
    assert model_id.startswith("open_clip/tinyoc-cfg") and model_id.endswith(
        f"/file-tinyoc_weights-{info.checksum[:12]}"
    )
    assert (
        info.preprocess.startswith("open_clip.image_transform_v2(")
        and '"interpolation": "bicubic"' in info.preprocess
    )
    # the source rebuilds the same model (what `geoclip classify` reads from the cache manifest)
    assert models.load_model(info.source, device="cpu")[2] == model_id


def test_open_clip_ids_separate_weights_and_random_is_seeded(open_clip_files):
    cfg, weights = open_clip_files
    a = models.load_model(f"open_clip:{cfg}:random", device="cpu")
    b = models.load_model(f"open_clip:{cfg}:random", device="cpu")
    c = models.load_model(f"open_clip:{cfg}:{weights}", device="cpu")
    assert a[2] == b[2] != c[2] and a[2].endswith("/random-seed0")
    x = torch.stack([a[1](im) for im in _images(2)])
    assert torch.equal(models.encode_image_batch(a[0], x), models.encode_image_batch(b[0], x))
    assert not torch.allclose(models.encode_image_batch(a[0], x), models.encode_image_batch(c[0], x))


def test_open_clip_errors_are_one_line(open_clip_files, monkeypatch, tmp_path):
    import open_clip

    cfg, _ = open_clip_files
    with pytest.raises(ConfigError, match="names no weights; add :TAG .*:random"):
        models.load_model(f"open_clip:{cfg}", device="cpu")
    with pytest.raises(ConfigError, match="has no architecture 'ViT-Q-99'"):
        models.load_model("open_clip:ViT-Q-99:x", device="cpu")
    with pytest.raises(ConfigError, match="neither a known tag .*laion2b_s34b_b79k"):
        models.load_model("open_clip:ViT-B-32:no_such_tag", device="cpu")
    bad = tmp_path / "bad.json"
    bad.write_text('{"embed_dim": 3}')
    with pytest.raises(ConfigError, match="not an open_clip model config"):
        models.load_model(f"open_clip:{bad}:random", device="cpu")

    msg = _offline_message(
        monkeypatch, open_clip.pretrained, "download_pretrained", "open_clip:ViT-B-32:laion2b_s34b_b79k"
    )
    assert "--model open_clip:ViT-B-32:path/to/open_clip_pytorch_model.bin" in msg
    wrong = tmp_path / "wrong.pt"
    torch.save({"w": torch.zeros(2)}, wrong)
    with pytest.raises(DataError, match="could not build"):
        models.load_model(f"open_clip:{cfg}:{wrong}", device="cpu")


def test_open_clip_prompt_longer_than_the_context_is_refused(open_clip_files):
    cfg, weights = open_clip_files
    model = models.load_model(f"open_clip:{cfg}:{weights}", device="cpu")[0]
    with pytest.raises(InputError, match="too long for the model's 77-token context"):
        models.encode_text_batch(model, ["word " * 80])


# --------------------------------------------------------------------------- transformers
def _hf_reference(folder: Path, kind: str):
    import transformers as T

    if kind == "clip":
        model = T.CLIPModel.from_pretrained(folder).eval()
        proc = T.CLIPProcessor.from_pretrained(folder)
        return model, proc.image_processor, lambda t: proc(text=t, padding=True, return_tensors="pt")
    model = T.SiglipModel.from_pretrained(folder).eval()
    tok = T.AutoTokenizer.from_pretrained(folder)
    n = model.config.text_config.max_position_embeddings
    return (
        model,
        T.SiglipImageProcessor.from_pretrained(folder),
        lambda t: tok(t, padding="max_length", max_length=n, return_tensors="pt"),
    )


@pytest.mark.parametrize("kind", ["clip", "siglip"])
def test_hf_features_equal_the_librarys(kind, hf_clip_dir, hf_siglip_dir):
    folder = hf_clip_dir if kind == "clip" else hf_siglip_dir
    model, preprocess, model_id = models.load_model(f"hf:{folder}", device="cpu")
    ref, image_processor, tokenize = _hf_reference(folder, kind)
    ims = _images()
    ours = models.encode_image_batch(model, torch.stack([preprocess(im) for im in ims]))
    with torch.no_grad():
        theirs = _unit(ref.get_image_features(**image_processor(images=ims, return_tensors="pt")))
    assert ours.shape == theirs.shape == (3, model.config.projection_dim if kind == "clip" else 32)
    assert (ours - theirs).abs().max().item() <= TOL
    texts = [t.lower() for t in TEXTS] if kind == "siglip" else TEXTS
    with torch.no_grad():
        enc = {k: v for k, v in tokenize(texts).items() if k in ("input_ids", "attention_mask")}
        theirs_t = _unit(ref.get_text_features(**enc))
    assert (models.encode_text_batch(model, texts) - theirs_t).abs().max().item() <= TOL
    info = model.geoclip
    assert info.backend == "hf" and info.input_resolution == 30
    assert model_id == f"hf/{folder.name}-{info.checksum[:12]}"
    assert model.geoclip_padding == ("max_length" if kind == "siglip" else "longest")
    assert models.load_model(info.source, device="cpu")[2] == model_id


def test_hf_siglip_padding_matters(hf_siglip_dir):
    """SigLIP reads its text feature at the last position: padded to max_length or not gives other features."""
    model = models.load_model(f"hf:{hf_siglip_dir}", device="cpu")[0]
    tok = model.geoclip_tokenizer
    with torch.no_grad():
        short = _unit(model.get_text_features(**tok(["a photo of paris"], return_tensors="pt")))
    assert (models.encode_text_batch(model, ["a photo of paris"]) - short).abs().max().item() > 1e-3


def test_hf_errors_say_how_to_pass_a_local_folder(monkeypatch, tmp_path, hf_siglip_dir):
    import transformers as T

    msg = _offline_message(monkeypatch, T.AutoModel, "from_pretrained", "hf:geolocal/StreetCLIP")
    assert "save_pretrained(DIR)" in msg and "--model hf:DIR" in msg
    monkeypatch.undo()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="has no config.json"):
        models.load_model(f"hf:{empty}", device="cpu")
    with pytest.raises(ConfigError, match="names no folder"):
        models.load_model("hf:", device="cpu")
    model = models.load_model(f"hf:{hf_siglip_dir}", device="cpu")[0]
    with pytest.raises(InputError, match="too long for the model's 16-token context"):
        models.encode_text_batch(model, ["a photo " * 10])


# --------------------------------------------------------------------------- the engine around the backends
def test_embed_and_text_cache_with_every_backend(open_clip_files, hf_clip_dir, tmp_path):
    cfg, weights = open_clip_files
    photos = tmp_path / "photos"
    photos.mkdir()
    ids = []
    for i, im in enumerate(_images(4)):
        im.save(photos / f"p{i}.jpg")
        ids.append(f"p{i}")
    cache = tmp_path / "cache"
    seen = {}
    for name in ("tiny", f"open_clip:{cfg}:{weights}", f"hf:{hf_clip_dir}"):
        model, preprocess, model_id = models.load_model(name, device="cpu")
        report = runner.embed_images(model, preprocess, photos, ids, cache, workers=0, progress=False)
        assert (report["status"] == "ok").all()
        got_ids, feats = emb_cache.load_embeddings(cache, model_id=model_id)
        direct = models.encode_image_batch(
            model, torch.stack([preprocess(Image.open(photos / f"{i}.jpg").convert("RGB")) for i in got_ids])
        ).numpy()
        assert np.abs(feats - direct).max() < 1e-5  # the runner's features are the backend's
        manifest = emb_cache.cache_manifest(cache, model_id)
        seen[manifest["settings"]["backend"]] = (model_id, manifest["settings"]["preprocess"])
        t = text.encode_texts(model, TEXTS, cache_dir=cache)
        assert np.allclose(t, models.encode_text_batch(model, TEXTS).numpy(), atol=1e-6)
    assert sorted(seen) == ["hf", "open_clip", "openai"]
    assert len({v[0] for v in seen.values()}) == 3 and len({v[1] for v in seen.values()}) == 3
    assert seen["openai"][1].startswith("clip._transform")  # today's caches keep their settings


def test_cache_settings_distinguish_backends(tmp_path):
    a = ModelInfo(
        "m/x", "cpu", "fp32", 224, backend="open_clip", preprocess="open_clip.image_transform_v2({})"
    )
    b = ModelInfo("m/x", "cpu", "fp32", 224, backend="hf", preprocess="transformers.CLIPImageProcessor(x)")
    sa = EmbedSettings.of(a, fast_decode=False, max_pixels=10)
    sb = EmbedSettings.of(b, fast_decode=False, max_pixels=10)
    with pytest.raises(ConfigError, match="backend='open_clip' but this run has backend='hf'"):
        sb.check(recorded_settings({"settings": sa.to_dict()}), tmp_path)
    legacy = {k: v for k, v in sa.to_dict().items() if k != "backend"}  # a cache of an older version
    sa.check(recorded_settings({"settings": legacy}), tmp_path)


@pytest.mark.slow
def test_package_imports_and_runs_without_the_optional_packages(tmp_path):
    code = textwrap.dedent(
        """
        import sys
        sys.modules["open_clip"] = None
        sys.modules["transformers"] = None
        from geoclip_utils.engine import models
        from geoclip_utils.errors import ConfigError
        m, p, i = models.load_model("tiny", device="cpu")
        assert i == "random/tiny-seed0"
        for name, package in (("open_clip:ViT-B-32:x", "open_clip_torch"), ("hf:x", "transformers")):
            try:
                models.load_model(name, device="cpu")
            except ConfigError as exc:
                assert package in str(exc) and "geoclip-utils[models]" in str(exc), exc
            else:
                raise AssertionError(name)
        print("ok")
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
