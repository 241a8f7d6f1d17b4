"""Tests of geoclip_utils.engine.models: loaders, random-weight models, devices, encoders."""

from __future__ import annotations

import pytest
import torch

from geoclip_utils.engine import models
from geoclip_utils.errors import ConfigError, DataError


def test_tiny_clip_is_a_real_clip_with_the_real_tokenizer():
    model, preprocess, model_id = models.load_model("tiny", device="cpu")
    assert model_id == "random/tiny-seed0"
    assert model.visual.input_resolution == 64 and model.context_length == 77 and model.vocab_size == 49408
    feats = models.encode_text_batch(model, ["This is a photo of France, a country", "Japan"])
    assert feats.shape == (2, 32) and feats.dtype == torch.float32
    assert torch.allclose(feats.norm(dim=-1), torch.ones(2), atol=1e-5)
    img = models.encode_image_batch(model, torch.randn(3, 3, 64, 64))
    assert img.shape == (3, 32) and torch.allclose(img.norm(dim=-1), torch.ones(3), atol=1e-5)
    assert model.geoclip.precision == "fp32" and model.geoclip.source == "tiny"


def test_tiny_clip_seed_is_deterministic_and_leaves_global_rng_alone():
    state = torch.random.get_rng_state()
    a, b, c = models.tiny_clip(0), models.tiny_clip(0), models.tiny_clip(1)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(a.text_projection, b.text_projection)
    assert not torch.equal(a.text_projection, c.text_projection)


def test_local_checkpoint_round_trip_weights_only(tmp_path):
    path = models.save_tiny_clip(tmp_path / "tiny.pt", seed=3)
    model, preprocess, model_id = models.load_model(path, device="cpu")
    assert model_id.startswith("file/tiny-") and len(model_id.split("-")[-1]) == 12
    ref = models.tiny_clip(3)
    for k, v in ref.state_dict().items():
        assert torch.equal(model.state_dict()[k].float(), v.float()), k
    # the preprocess transform is clip's own for the model's resolution
    assert "Resize(size=64" in repr(preprocess) and "CenterCrop(size=(64, 64))" in repr(preprocess)
    again = models.load_model(str(path), device="cpu")[2]
    assert again == model_id  # the id is a content hash: stable


class Evil:
    """A class that a weights-only load must refuse to unpickle."""


def test_checkpoint_with_pickled_code_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"text_projection": torch.zeros(2, 2), "obj": Evil()}, path)
    with pytest.raises(DataError, match="weights-only"):
        models.load_model(path, device="cpu")
    other = tmp_path / "notclip.pt"
    torch.save({"w": torch.zeros(2)}, other)
    with pytest.raises(DataError, match="not a CLIP state dict"):
        models.load_model(other, device="cpu")


def test_unknown_name_lists_models_without_network(monkeypatch):
    import urllib.request

    import clip

    def boom(*a, **k):
        raise AssertionError("network touched")

    monkeypatch.setattr(urllib.request, "urlopen", boom)
    monkeypatch.setattr(clip, "load", boom)
    with pytest.raises(ConfigError) as exc:
        models.load_model("ViT-H/99", device="cpu")
    for name in clip.available_models():
        assert name in str(exc.value)


def test_known_name_without_network_says_how_to_pass_a_checkpoint(monkeypatch):
    import urllib.error

    import clip

    def offline(*a, **k):
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(clip, "load", offline)
    with pytest.raises(
        ConfigError, match="Without network, copy the file ViT-L-14.pt there .* --model path/to/weights.pt"
    ):
        models.load_model("ViT-L/14", device="cpu")


def test_known_name_goes_through_clip_load(monkeypatch):
    import clip

    calls = []

    def fake_load(name, device, jit):
        calls.append((name, device, jit))
        return models.tiny_clip(0), None

    monkeypatch.setattr(clip, "load", fake_load)
    model, preprocess, model_id = models.load_model("ViT-L/14", device="cpu")
    assert calls == [("ViT-L/14", "cpu", False)]
    assert model_id == "openai/ViT-L-14" and model.geoclip.source == "ViT-L/14"


def test_devices_and_precision():
    assert models.pick_device("cpu").type == "cpu"
    assert models.pick_device(None).type in ("cpu", "cuda", "mps")
    with pytest.raises(ConfigError):
        models.pick_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA is not available"):
            models.pick_device("cuda")
        with pytest.raises(ConfigError, match="fp16"):
            models.load_model("tiny", device="cpu", precision="fp16")
    with pytest.raises(ConfigError):
        models.load_model("tiny", device="cpu", precision="bf8")


def test_architecture_clip_has_the_real_hyper_parameters():
    model, preprocess, model_id = models.architecture_clip("ViT-B/32", seed=0)
    assert model_id == "random/ViT-B-32-seed0"
    assert model.visual.input_resolution == 224 and model.visual.conv1.kernel_size == (32, 32)
    assert model.text_projection.shape == (512, 512)
    n = sum(p.numel() for p in model.parameters())
    assert 150e6 < n < 153e6  # ViT-B/32 has 151.3 M parameters
    with pytest.raises(ConfigError):
        models.architecture_clip("ViT-Z/1")


def test_truncated_text_encoder_equals_clip_encode_text():
    import clip

    model, _, _ = models.load_model("tiny", device="cpu")
    texts = ["This is a photo of France, a country", "x", "a much longer prompt " * 5]
    tokens = clip.tokenize(texts)
    with torch.inference_mode():
        ref = model.encode_text(tokens)
        fast = models._encode_text_truncated(model, tokens)
    assert torch.allclose(ref, fast, atol=1e-5)
    assert models._is_causal(model)
    # without a causal mask the engine falls back to the model's own encoder
    model.transformer.resblocks[0].attn_mask = None
    assert not models._is_causal(model)
    with torch.inference_mode():
        assert torch.allclose(models._encode_text_truncated(model, tokens), model.encode_text(tokens))
