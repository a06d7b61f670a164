import inspect
import io
import random
import socket

import pytest
import torch
from segmentation_models_pytorch.decoders.deeplabv3.decoder import ASPPPooling
from torch import nn

from thesislib.models import (
    FeatureDiscriminator,
    ImagePool,
    OutputDiscriminator,
    ResnetBlock,
    add_drop_path,
    build_segmenter,
    define_D,
    define_G,
)
from thesislib.models.segmentation import IMAGENET_MEAN, IMAGENET_STD, _DropPath

H, W = 32, 64


@pytest.mark.parametrize("encoder, channels", [("resnet18", 512), ("resnet50", 2048), ("mobilenet_v2", 1280)])
def test_segmenter_shapes(encoder, channels):
    model = build_segmenter(encoder, num_classes=5, decoder_channels=16).eval()
    with torch.no_grad():
        logits, features = model(torch.rand(2, 3, H, W), return_features=True)
    assert logits.shape == (2, 5, H, W)
    assert model.feature_channels == channels
    assert features.shape == (2, channels, H // 16, W // 16)


def test_segmenter_normalises_inputs_itself():
    model = build_segmenter("mobilenet_v2", decoder_channels=16).eval()
    x = torch.rand(1, 3, H, W)
    mean, std = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        assert torch.allclose(model(x), model.net((x - mean) / std), atol=1e-6)
        assert not torch.allclose(model(x), model.net(x), atol=1e-3)


def test_segmenter_batch_one_trains():
    model = build_segmenter("resnet18", decoder_channels=16, dropout=0.1, drop_path=0.1).train()
    assert not any(isinstance(m, nn.BatchNorm2d) for p in model.modules() if isinstance(p, ASPPPooling) for m in p)
    logits = model(torch.rand(1, 3, H, W))
    nn.functional.cross_entropy(logits, torch.randint(19, (1, H, W))).backward()
    grad = model.net.encoder.conv1.weight.grad
    assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0


def test_segmenter_input_size_must_divide_output_stride():
    model = build_segmenter("mobilenet_v2", decoder_channels=16).eval()
    with pytest.raises(RuntimeError, match="divisible by 16"):
        model(torch.rand(1, 3, 40, 64))


def test_encoder_weights_default_none_and_no_download(monkeypatch):
    assert inspect.signature(build_segmenter).parameters["encoder_weights"].default is None

    def offline(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket, "getaddrinfo", offline)
    monkeypatch.setattr(socket.socket, "connect", offline)
    assert build_segmenter().feature_channels == 2048  # the defaults: resnet50, random init


def test_drop_path_is_random_in_training_only_and_keeps_state_dict_keys():
    noisy = build_segmenter("resnet18", decoder_channels=16, drop_path=0.5)
    plain = build_segmenter("resnet18", decoder_channels=16)
    x = torch.rand(2, 3, H, W)
    with torch.no_grad():
        torch.manual_seed(0)
        a = noisy.net.encoder(x)[-1]
        torch.manual_seed(1)
        b = noisy.net.encoder(x)[-1]
        assert not torch.allclose(a, b)
        assert torch.equal(plain.net.encoder(x)[-1], plain.net.encoder(x)[-1])
        plain.load_state_dict(noisy.state_dict())  # strict: same keys
        noisy.eval(), plain.eval()
        assert torch.equal(noisy(x), plain(x))


@pytest.mark.parametrize("encoder, blocks", [("resnet18", 8), ("mobilenet_v2", 10)])
def test_drop_path_rates_rise_linearly_over_residual_blocks(encoder, blocks):
    model = build_segmenter(encoder, decoder_channels=16, drop_path=0.2)
    hooks = [h for m in model.modules() for h in m._forward_hooks.values() if isinstance(h, _DropPath)]
    assert [h.p for h in hooks] == pytest.approx(torch.linspace(0, 0.2, blocks).tolist())


def test_drop_path_rejects_unsupported_encoder():
    with pytest.raises(ValueError, match="drop_path is supported"):
        add_drop_path(nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8)), 0.1)


def test_generator_shape_range_and_blocks():
    assert sum(isinstance(m, ResnetBlock) for m in define_G().modules()) == 9
    gen = define_G(ngf=8, n_blocks=2)
    assert sum(isinstance(m, ResnetBlock) for m in gen.modules()) == 2
    assert any(isinstance(m, nn.ReflectionPad2d) for m in gen.modules())
    assert any(isinstance(m, nn.InstanceNorm2d) for m in gen.modules())
    out = gen(torch.rand(2, 3, H, W) * 2 - 1)
    assert out.shape == (2, 3, H, W)
    assert out.min() >= -1 and out.max() <= 1


def test_normal_init():
    disc = define_D()
    weights = torch.cat([m.weight.flatten() for m in disc.modules() if isinstance(m, nn.Conv2d)])
    biases = torch.cat([m.bias for m in disc.modules() if isinstance(m, nn.Conv2d)])
    assert weights.std().item() == pytest.approx(0.02, rel=0.05)
    assert abs(weights.mean().item()) < 1e-3
    assert torch.all(biases == 0)


def test_patchgan_receptive_field_is_70():
    disc = define_D(ndf=8)
    # instance norm mixes all locations; without it the gradient shows the receptive field
    for i, m in enumerate(disc.model):
        if isinstance(m, nn.InstanceNorm2d):
            disc.model[i] = nn.Identity()
    x = torch.randn(1, 3, 160, 160, requires_grad=True)
    out = disc(x)
    assert out.shape == (1, 1, 18, 18)
    out[0, 0, 9, 9].backward()
    support = x.grad[0].abs().sum(0).nonzero()
    assert (support.max(0).values - support.min(0).values + 1).tolist() == [70, 70]


def test_domain_discriminator_shapes():
    out_d = OutputDiscriminator(num_classes=19, ndf=8)
    convs = [m for m in out_d.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 5 and all(c.kernel_size == (4, 4) and c.stride == (2, 2) for c in convs)
    probs = torch.softmax(torch.randn(2, 19, 64, 128), dim=1)
    assert out_d(probs).shape == (2, 1, 2, 4)
    assert FeatureDiscriminator(512, ndf=16)(torch.randn(2, 512, 2, 4)).shape == (2, 1, 2, 4)


def _images(n):
    return torch.arange(n, dtype=torch.float32).view(n, 1, 1, 1).expand(n, 3, 2, 2)


def test_image_pool_fills_then_returns_stored_images():
    pool = ImagePool(pool_size=3)
    first = _images(3)
    assert torch.equal(pool.query(first), first)
    torch.manual_seed(0)
    new = _images(40) + 100
    out = pool.query(new)
    from_history = [i for i in range(40) if not torch.equal(out[i], new[i])]
    assert 5 < len(from_history) < 35  # about half
    seen = {0.0, 1.0, 2.0}
    for i in range(40):  # each output is the new image or an earlier one
        value = out[i, 0, 0, 0].item()
        assert value == new[i, 0, 0, 0].item() or value in seen
        seen.add(new[i, 0, 0, 0].item())
    assert len(pool.images) == 3
    assert torch.equal(ImagePool(pool_size=0).query(new), new)


def test_image_pool_uses_python_rng_and_state_round_trips():
    pool = ImagePool(pool_size=4)
    pool.query(_images(4))
    buffer = io.BytesIO()
    torch.save(pool.state_dict(), buffer)
    buffer.seek(0)
    restored = ImagePool()
    restored.load_state_dict(torch.load(buffer, weights_only=True))
    assert restored.pool_size == 4 and len(restored.images) == 4

    new = _images(20) + 100
    random.seed(3)                      # the engine seeds Python's RNG every step: the pool reads no device value
    a = pool.query(new)
    random.seed(3)
    b = restored.query(new)
    assert torch.equal(a, b) and not torch.equal(a, new)
