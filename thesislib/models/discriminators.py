"""Domain discriminators for adversarial adaptation of the segmenter (outputs logits)."""
import torch
from torch import nn


class OutputDiscriminator(nn.Module):
    """AdaptSegNet's fully convolutional discriminator on softmax maps (Tsai et al. 2018).

    Five 4x4 stride-2 convs (ndf, 2ndf, 4ndf, 8ndf, 1) with LeakyReLU(0.2) between them;
    input (N, num_classes, H, W) probabilities, output (N, 1, H/32, W/32) logits.
    """

    def __init__(self, num_classes: int = 19, ndf: int = 64):
        super().__init__()
        channels = [num_classes, ndf, ndf * 2, ndf * 4, ndf * 8]
        layers = []
        for c_in, c_out in zip(channels, channels[1:]):
            layers += [nn.Conv2d(c_in, c_out, kernel_size=4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        layers += [nn.Conv2d(channels[-1], 1, kernel_size=4, stride=2, padding=1)]
        self.model = nn.Sequential(*layers)

    def forward(self, probs: torch.Tensor) -> torch.Tensor:
        return self.model(probs)


class FeatureDiscriminator(nn.Module):
    """Per-location domain classifier on encoder features: two 3x3 convs and a 1x1 conv.

    Output (N, 1, H, W) logits at the feature map's resolution.
    """

    def __init__(self, in_channels: int, ndf: int = 256):
        super().__init__()
        self.model = nn.Sequential(
            nn.Conv2d(in_channels, ndf, kernel_size=3, padding=1),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf, ndf, kernel_size=3, padding=1),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf, 1, kernel_size=1),
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.model(features)
