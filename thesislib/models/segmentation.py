"""DeepLabV3+ segmenter (segmentation_models_pytorch) with ImageNet normalisation built in.

Two changes to smp's model, both applied by `build_segmenter`:

* The ASPP image-pooling branch has no BatchNorm (its conv gets a bias instead), as in
  detectron2's ASPP: BatchNorm over a 1x1 map fails in training with batch size 1
  ("Expected more than 1 value per channel") and is degenerate for small batches.
* Optional stochastic depth (`add_drop_path`) on the residual branches of torchvision-style
  encoders (smp's resnet*/resnext* and mobilenet_v2), for the noisy student.
"""
import segmentation_models_pytorch as smp
import torch
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


def build_segmenter(
    encoder: str = "resnet50",
    num_classes: int = 19,
    encoder_weights: str | None = None,
    decoder_channels: int = 256,
    dropout: float = 0.0,
    drop_path: float = 0.0,
) -> Segmenter:
    """DeepLabV3+ (output stride 16, smp's defaults incl. ASPP dropout 0.5).

    `encoder_weights=None` gives a random init and never downloads; pass "imagenet" only
    with weights already in the local cache. `dropout` (Dropout2d) acts on the decoder
    output just before the 1x1 classifier; `drop_path` is the encoder's maximum stochastic
    depth rate (see `add_drop_path`).
    """
    net = smp.DeepLabV3Plus(
        encoder_name=encoder,
        encoder_weights=encoder_weights,
        decoder_channels=decoder_channels,
        classes=num_classes,
    )
    _remove_pooling_norm(net)
    if drop_path > 0:
        add_drop_path(net.encoder, drop_path)
    return Segmenter(net, dropout=dropout)
