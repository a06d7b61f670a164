"""DeepLabV3+ segmenter (segmentation_models_pytorch) with ImageNet normalisation built in.

Two changes to smp's model, both applied by `build_segmenter`:

* The ASPP image-pooling branch has no BatchNorm (its conv gets a bias instead), as in
  detectron2's ASPP: BatchNorm over a 1x1 map fails in training with batch size 1
  ("Expected more than 1 value per channel") and is degenerate for small batches.
* Optional stochastic depth (`add_drop_path`) on the residual branches of torchvision-style
  encoders (smp's resnet*/resnext* and mobilenet_v2), for the noisy student.

ImageNet initialisation (`encoder_weights="imagenet"`) loads torchvision's ImageNet-1k weights of the
encoder from the ordinary torch cache, `$TORCH_HOME/hub/checkpoints/` (default ~/.cache/torch/hub/), where
torchvision itself keeps them; a missing file is downloaded there when the machine is online, and
otherwise one clear error says which file to put where.
"""
from pathlib import Path

import segmentation_models_pytorch as smp
import torch
import torchvision
from segmentation_models_pytorch.decoders.deeplabv3.decoder import ASPPPooling
from torch import nn
from torchvision.models.mobilenetv2 import InvertedResidual
from torchvision.models.resnet import BasicBlock, Bottleneck
from torchvision.ops import stochastic_depth

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class Segmenter(nn.Module):
    """Wraps an smp encoder-decoder: input RGB in [0, 1], output logits at input resolution.

    `forward(x, return_features=True)` also returns the deepest encoder feature map
    (`feature_channels` channels, stride `output_stride`) for feature-level adaptation.
    Height and width must be divisible by `output_stride`.
    """

    def __init__(self, net: smp.DeepLabV3Plus, dropout: float = 0.0):
        super().__init__()
        self.net = net
        self.dropout = nn.Dropout2d(dropout) if dropout > 0 else nn.Identity()
        self.num_classes = net.segmentation_head[0].out_channels
        self.feature_channels = net.encoder.out_channels[-1]
        self.output_stride = net.encoder.output_stride
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor, return_features: bool = False):
        self.net.check_input_shape(x)
        features = self.net.encoder((x - self.mean) / self.std)
        logits = self.net.segmentation_head(self.dropout(self.net.decoder(features)))
        return (logits, features[-1]) if return_features else logits


class _DropPath:
    """Forward hook: stochastic depth ("row" mode) on a residual branch's output in training."""

    def __init__(self, p: float):
        self.p = p

    def __call__(self, module: nn.Module, inputs, output: torch.Tensor) -> torch.Tensor:
        return stochastic_depth(output, self.p, "row", module.training)


def _residual_branch_ends(encoder: nn.Module) -> list:
    """Last norm layer of every residual branch (added to an identity/shortcut path)."""
    ends = []
    for m in encoder.modules():
        if isinstance(m, BasicBlock):
            ends.append(m.bn2)
        elif isinstance(m, Bottleneck):
            ends.append(m.bn3)
        elif isinstance(m, InvertedResidual) and m.use_res_connect:
            ends.append(m.conv[-1])
    return ends


def add_drop_path(encoder: nn.Module, rate: float) -> None:
    """Stochastic depth on the encoder's residual branches, rates rising linearly from 0 to `rate`.

    Supports torchvision residual blocks (smp `resnet*`, `resnext*`, `mobilenet_v2`): each
    sample's branch output is dropped with its block's rate and rescaled by 1/(1-p) otherwise.
    Implemented with forward hooks, so the state_dict keys do not change (a teacher checkpoint
    loads into a student). Raises ValueError for encoders without such blocks.
    """
    ends = _residual_branch_ends(encoder)
    if not ends:
        raise ValueError(
            f"drop_path is supported for smp resnet*/resnext*/mobilenet_v2 encoders, "
            f"not {type(encoder).__name__}"
        )
    for i, norm in enumerate(ends):
        norm.register_forward_hook(_DropPath(rate * i / max(len(ends) - 1, 1)))


def _remove_pooling_norm(net: nn.Module) -> None:
    """Replace conv(bias=False)+BatchNorm in ASPP's image-pooling branch by conv(bias=True)."""
    for m in net.modules():
        if isinstance(m, ASPPPooling):
            conv = m[1]
            m[1] = nn.Conv2d(conv.in_channels, conv.out_channels, kernel_size=1, bias=True)
            m[2] = nn.Identity()


IMAGENET_WEIGHTS = {"resnet18": "ResNet18_Weights", "resnet34": "ResNet34_Weights", "resnet50": "ResNet50_Weights",
                    "resnet101": "ResNet101_Weights", "mobilenet_v2": "MobileNet_V2_Weights"}


class WeightsMissing(FileNotFoundError):
    """Pretrained weights are neither in the torch cache nor downloadable (the message says what to do)."""


def imagenet_weights_file(encoder: str) -> tuple[str, Path]:
    """(download URL, path in the torch cache) of torchvision's ImageNet-1k weights for `encoder`."""
    if encoder not in IMAGENET_WEIGHTS:
        raise ValueError(f"no ImageNet weights known for encoder {encoder!r}: use one of "
                         f"{', '.join(IMAGENET_WEIGHTS)}, or encoder_weights=none")
    url = getattr(torchvision.models, IMAGENET_WEIGHTS[encoder]).IMAGENET1K_V1.url
    return url, Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1]


def imagenet_state_dict(encoder: str) -> dict:
    """The encoder's ImageNet state dict from the torch cache (downloaded into it when possible)."""
    url, path = imagenet_weights_file(encoder)
    if not path.is_file():
        try:
            torch.hub.load_state_dict_from_url(url, progress=False, check_hash=True)
        except Exception as e:  # noqa: BLE001 - offline, proxy, hash: the same advice
            raise WeightsMissing(
                f"ImageNet weights for {encoder} are not in the torch cache and could not be downloaded ({e}). "
                f"Fix: on a machine with internet run `python -c \"import torchvision; torchvision.models."
                f"{IMAGENET_WEIGHTS[encoder]}.IMAGENET1K_V1.get_state_dict()\"` (or download {url}) and copy the "
                f"file to {path} (the torch cache; set TORCH_HOME to use another), or train from scratch with "
                f"encoder_weights=none") from e
    return torch.load(path, map_location="cpu", weights_only=True)


def build_segmenter(
    encoder: str = "resnet50",
    num_classes: int = 19,
    encoder_weights: str | None = None,
    decoder_channels: int = 256,
    dropout: float = 0.0,
    drop_path: float = 0.0,
) -> Segmenter:
    """DeepLabV3+ (output stride 16, smp's defaults incl. ASPP dropout 0.5).

    `encoder_weights`: None (or "none") gives a random init; "imagenet" loads torchvision's
    ImageNet weights from the torch cache (see `imagenet_state_dict`). `dropout` (Dropout2d) acts
    on the decoder output just before the 1x1 classifier; `drop_path` is the encoder's maximum
    stochastic depth rate (see `add_drop_path`).
    """
    if encoder_weights not in (None, "none", "imagenet"):
        raise ValueError(f"encoder_weights must be 'imagenet' or none, got {encoder_weights!r}")
    net = smp.DeepLabV3Plus(
        encoder_name=encoder,
        encoder_weights=None,               # smp would fetch from a hub: the torch cache is used instead
        decoder_channels=decoder_channels,
        classes=num_classes,
    )
    if encoder_weights == "imagenet":
        net.encoder.load_state_dict(imagenet_state_dict(encoder))   # smp's encoders drop the classifier keys
    _remove_pooling_norm(net)
    if drop_path > 0:
        add_drop_path(net.encoder, drop_path)
    return Segmenter(net, dropout=dropout)
