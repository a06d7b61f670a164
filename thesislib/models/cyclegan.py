"""CycleGAN networks (Zhu et al. 2017), following junyanz/pytorch-CycleGAN-and-pix2pix.

ResNet generator with reflection padding and instance norm, 70x70 PatchGAN discriminator,
normal(0, 0.02) init and the history buffer of generated images (`ImagePool`).
"""
import functools
import random

import torch
from torch import nn

# the reference's "instance" norm: no affine parameters, no running statistics
norm_layer = functools.partial(nn.InstanceNorm2d, affine=False, track_running_stats=False)


def init_weights(net: nn.Module, gain: float = 0.02) -> nn.Module:
    """Conv weights ~ N(0, gain), biases 0 (the reference's "normal" init)."""
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return net


class ResnetBlock(nn.Module):
    """x + [pad-conv3x3-norm-ReLU-pad-conv3x3-norm](x)."""

    def __init__(self, dim: int):
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, kernel_size=3),
            norm_layer(dim),
            nn.ReLU(True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, kernel_size=3),
            norm_layer(dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


def upsampling(c_in: int, c_out: int, mode: str = "transpose") -> list[nn.Module]:
    """A x2 upsampling convolution: the reference's transposed convolution ("transpose"), or a nearest-neighbour
    resize followed by a 3x3 convolution ("resize", Odena et al. 2016: no checkerboard artefacts)."""
    if mode == "transpose":
        return [nn.ConvTranspose2d(c_in, c_out, kernel_size=3, stride=2, padding=1, output_padding=1)]
    if mode == "resize":
        return [nn.Upsample(scale_factor=2, mode="nearest"), nn.ReflectionPad2d(1), nn.Conv2d(c_in, c_out, kernel_size=3)]
    raise ValueError(f"upsampling must be 'transpose' or 'resize', got {mode!r}")


class ResnetGenerator(nn.Module):
    """c7s1-ngf, d2ngf, d4ngf, n_blocks x R4ngf, u2ngf, ungf, c7s1-output_nc, tanh.

    Input and output in [-1, 1]; height and width should be divisible by 4. `upsample`: see `upsampling`.
    """

    def __init__(self, input_nc: int = 3, output_nc: int = 3, ngf: int = 64, n_blocks: int = 9,
                 upsample: str = "transpose"):
        super().__init__()
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, kernel_size=7), norm_layer(ngf), nn.ReLU(True)]
        for mult in (1, 2):  # downsampling
            layers += [
                nn.Conv2d(ngf * mult, ngf * mult * 2, kernel_size=3, stride=2, padding=1),
                norm_layer(ngf * mult * 2),
                nn.ReLU(True),
            ]
        layers += [ResnetBlock(ngf * 4) for _ in range(n_blocks)]
        for mult in (4, 2):  # upsampling
            layers += [*upsampling(ngf * mult, ngf * mult // 2, upsample), norm_layer(ngf * mult // 2), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, kernel_size=7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class NLayerDiscriminator(nn.Module):
    """PatchGAN: conv4x4 stride 2 x n_layers, one stride-1 conv, 1-channel map of logits.

    With n_layers=3 every output value sees a 70x70 input patch.
    """

    def __init__(self, input_nc: int = 3, ndf: int = 64, n_layers: int = 3):
        super().__init__()
        layers = [nn.Conv2d(input_nc, ndf, kernel_size=4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2**n, 8)
            stride = 2 if n < n_layers else 1
            layers += [
                nn.Conv2d(ndf * prev, ndf * mult, kernel_size=4, stride=stride, padding=1),
                norm_layer(ndf * mult),
                nn.LeakyReLU(0.2, True),
            ]
        layers += [nn.Conv2d(ndf * mult, 1, kernel_size=4, stride=1, padding=1)]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def define_G(input_nc: int = 3, output_nc: int = 3, ngf: int = 64, n_blocks: int = 9,
             upsample: str = "transpose") -> ResnetGenerator:
    """The paper's generator (9 residual blocks, for 256x256 and larger images), N(0, 0.02) init."""
    return init_weights(ResnetGenerator(input_nc, output_nc, ngf, n_blocks, upsample))


def define_D(input_nc: int = 3, ndf: int = 64, n_layers: int = 3) -> NLayerDiscriminator:
    """The paper's 70x70 PatchGAN, N(0, 0.02) init."""
    return init_weights(NLayerDiscriminator(input_nc, ndf, n_layers))


class ImagePool:
    """History of generated images (Shrivastava et al.) to update discriminators with.

    `query` returns, per image, a random stored one (swapping the new one in) with probability
    1/2 once the pool is full, else the image itself. Randomness comes from Python's `random` (the engine
    seeds it every step), so the choice never reads a value back from the device.
    """

    def __init__(self, pool_size: int = 50):
        self.pool_size = pool_size
        self.images: list[torch.Tensor] = []

    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.pool_size == 0:
            return images
        out = []
        for image in images.detach():
            image = image.unsqueeze(0)
            if len(self.images) < self.pool_size:
                self.images.append(image)
                out.append(image)
            elif random.random() > 0.5:
                i = random.randrange(self.pool_size)
                out.append(self.images[i])
                self.images[i] = image
            else:
                out.append(image)
        return torch.cat(out, 0)

    def state_dict(self) -> dict:
        """Only ints and tensors: safe for torch.load(weights_only=True)."""
        return {"pool_size": self.pool_size, "images": list(self.images)}

    def load_state_dict(self, state: dict) -> None:
        self.pool_size = int(state["pool_size"])
        self.images = list(state["images"])
