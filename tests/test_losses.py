import math

import pytest
import torch
import torch.nn.functional as F

from thesislib.losses import (
    GANLoss,
    class_weights,
    cycle_loss,
    entropy_loss,
    identity_loss,
    pseudo_label_ce,
    segmentation_ce,
    stream_ce,
)


@pytest.fixture
def batch():
    torch.manual_seed(0)
    logits = torch.randn(2, 5, 4, 6)
    target = torch.randint(5, (2, 4, 6))
    target[0, 0] = 255
    return logits, target


def test_segmentation_ce_matches_cross_entropy(batch):
    logits, target = batch
    weights = torch.tensor([1.0, 2.0, 0.5, 3.0, 1.0])
    assert segmentation_ce(logits, target).item() == pytest.approx(F.cross_entropy(logits, target, ignore_index=255).item())
    expected = F.cross_entropy(logits, target, weight=weights, ignore_index=255)
    assert segmentation_ce(logits, target, class_weights=weights).item() == pytest.approx(expected.item())


def test_all_ignored_gives_zero_not_nan(batch):
    logits, target = batch
    logits.requires_grad_(True)
    loss = segmentation_ce(logits, torch.full_like(target, 255))
    loss.backward()
    assert loss.item() == 0 and torch.isfinite(logits.grad).all()


def test_pseudo_label_ce_weighting(batch):
    """Class weights give F.cross_entropy's weighted mean; a pixel weight (an image's confidence) scales it."""
    logits, target = batch
    plain = F.cross_entropy(logits, target, ignore_index=255)
    assert pseudo_label_ce(logits, target, pixel_weight=torch.ones(target.shape)).item() == pytest.approx(plain.item())
    assert pseudo_label_ce(logits, target, pixel_weight=torch.full(target.shape, 0.25)).item() == \
        pytest.approx(0.25 * plain.item())

    weight = torch.rand(target.shape)
    ce = F.cross_entropy(logits, target, ignore_index=255, reduction="none")
    valid = target != 255
    cw = torch.tensor([1.0, 2.0, 0.5, 3.0, 1.0])
    class_w = cw[target.clamp(max=4)]
    expected = (weight * class_w * ce)[valid].sum() / class_w[valid].sum()
    assert pseudo_label_ce(logits, target, weight, cw).item() == pytest.approx(expected.item())
    assert pseudo_label_ce(logits, target, class_weights=cw).item() == \
        pytest.approx(F.cross_entropy(logits, target, weight=cw, ignore_index=255).item())


def test_stream_ce_gives_each_stream_its_batch_share(batch):
    """A stream whose pixels are mostly ignored still carries its share of the batch (pooled CE would not)."""
    logits, target = batch
    target = target.clone()
    target[1, :, 1:] = 255                                   # item 1: one column of labels left
    loss, parts = stream_ce(logits, target, [1, 1, 0])
    first = F.cross_entropy(logits[:1], target[:1], ignore_index=255)
    second = F.cross_entropy(logits[1:], target[1:], ignore_index=255)
    assert parts[2] is None and parts[0].item() == pytest.approx(first.item())
    assert loss.item() == pytest.approx(0.5 * first.item() + 0.5 * second.item())
    pooled = F.cross_entropy(logits, target, ignore_index=255)
    assert abs(pooled.item() - loss.item()) > 1e-4


def test_gan_loss_values():
    pred = torch.tensor([0.5, 2.0])
    lsgan = GANLoss("lsgan")
    assert lsgan(pred, True).item() == pytest.approx((0.25 + 1.0) / 2)
    assert lsgan(pred, False).item() == pytest.approx((0.25 + 4.0) / 2)
    vanilla = GANLoss("vanilla")
    assert vanilla(pred, True).item() == pytest.approx(-torch.log(torch.sigmoid(pred)).mean().item())
    assert vanilla(pred, False).item() == pytest.approx(-torch.log(1 - torch.sigmoid(pred)).mean().item())
    with pytest.raises(ValueError):
        GANLoss("wgan")


def test_cycle_and_identity_are_mean_l1():
    a, b = torch.tensor([[0.0, 1.0], [-1.0, 0.5]]), torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    assert cycle_loss(a, b).item() == pytest.approx((1 + 0 + 2 + 0.5) / 4)
    assert identity_loss(a, b).item() == pytest.approx((1 + 0 + 2 + 0.5) / 4)


def test_entropy_loss():
    assert entropy_loss(torch.zeros(2, 19, 3, 4)).item() == pytest.approx(1.0)
    one_hot = torch.full((2, 19, 3, 4), -50.0)
    one_hot[:, 3] = 50.0
    assert entropy_loss(one_hot).item() == pytest.approx(0.0, abs=1e-6)
    p = torch.tensor([0.7, 0.2, 0.1])
    logits = p.log().view(1, 3, 1, 1)
    assert entropy_loss(logits).item() == pytest.approx(-(p * p.log()).sum().item() / math.log(3), rel=1e-5)


@pytest.mark.parametrize("method", ["inv_sqrt", "median_freq"])
def test_class_weights(method):
    w = class_weights([100000, 40000, 20000, 0, 10], method=method)
    assert w.mean().item() == pytest.approx(1.0)
    assert w[4] > w[2] > w[1] > w[0]  # rarer -> heavier
    assert w[3] == w.max()  # absent class gets the cap
    assert (w.max() / w.min()).item() == pytest.approx(10.0)  # 1e5 vs 10 or 0 pixels hits the cap


def test_class_weights_inv_sqrt_values_and_errors():
    w = class_weights([400, 100], method="inv_sqrt")
    assert w.tolist() == pytest.approx([2 / 3, 4 / 3])  # 1/sqrt(freq) ratio 2, mean 1
    assert class_weights([0, 0]).tolist() == [1.0, 1.0]
    with pytest.raises(ValueError):
        class_weights([1, 2], method="log")
