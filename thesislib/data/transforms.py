"""Joint image/mask transforms (torchvision v2) for training; evaluation uses none (`transform=None`).

Inputs are dicts of tv_tensors: an Image (uint8), a Mask (train ids) and optionally a WeightMap;
geometric transforms move them together. Items leave the loaders as uint8 images and uint8 masks (a
quarter and an eighth of float32 and int64 to ship from loader workers and copy to a GPU); `to_model`
makes them float images in [0, 1] and int64 masks on the device, as torchvision's ToDtype would.
"""
import numpy as np
import torch
from PIL import Image, ImageEnhance, ImageFilter
from torchvision import tv_tensors
from torchvision.transforms import v2

from thesislib.data.labels import IGNORE_INDEX


class WeightMap(tv_tensors.Mask):
    """A per-pixel loss weight: moves like a mask (nearest resampling) but pads with 0, not 255."""


FILL = {tv_tensors.Image: 0, tv_tensors.Mask: IGNORE_INDEX, "others": 0}   # WeightMap -> "others"
to_dtypes = v2.ToDtype({tv_tensors.Image: torch.uint8, tv_tensors.Mask: torch.uint8, "others": None}, scale=False)


def image_to_float(image: torch.Tensor) -> torch.Tensor:
    """A uint8 image (batch) as float32 in [0, 1], bit for bit what torchvision's ToDtype(scale=True) gives."""
    return image.to(torch.float32).mul_(1.0 / 255) if image.dtype == torch.uint8 else image


def to_model(batch: dict, device, channels_last: bool = False) -> dict:
    """A loader's batch on `device` (non-blocking from pinned memory): uint8 images normalised there to float
    in [0, 1] (channels_last if asked), uint8 masks made int64."""
    out = {}
    for k, v in batch.items():
        if torch.is_tensor(v):
            v = v.to(device, non_blocking=True)
            if k == "image":
                v = image_to_float(v)
                if v.ndim == 4 and channels_last:
                    v = v.contiguous(memory_format=torch.channels_last)
            elif k == "mask" and v.dtype == torch.uint8:
                v = v.long()
        out[k] = v
    return out


LUMA = np.array([0.213, 0.715, 0.072])     # the weights of the W3C colour-matrix filters


def saturation_matrix(s: float) -> np.ndarray:
    """RGB -> RGB matrix scaling saturation by `s` (W3C `saturate`), grey axis fixed."""
    return np.tile(LUMA, (3, 1)) * (1 - s) + np.eye(3) * s


def hue_rotation(angle: float) -> np.ndarray:
    """RGB -> RGB matrix rotating hue by `angle` radians around the grey axis (W3C `hue-rotate`)."""
    cos, sin = np.cos(angle), np.sin(angle)
    return (np.tile(LUMA, (3, 1)) + cos * (np.eye(3) - np.tile(LUMA, (3, 1)))
            + sin * np.array([[-0.213, -0.715, 0.928], [0.143, 0.140, -0.283], [-0.787, 0.715, 0.072]]))


class StudentNoise(v2.Transform):
    """The noisy student's input noise on the image only (masks and weights pass through): colour jitter
    (brightness, contrast, saturation, hue) with probability `p_jitter`, Gaussian blur with sigma in
    `blur_sigma` with probability `p_blur`, greyscale with probability `p_grey`, as in SimCLR / Noisy
    Student. Done with PIL's C filters in one round trip: a few ms at 512x1024, where torchvision's
    HSV hue and a 51-tap blur kernel (10 % of the image size) cost ~300 ms per image."""
    _transformed_types = (tv_tensors.Image,)

    def __init__(self, jitter=(0.4, 0.4, 0.4, 0.1), blur_sigma=(0.1, 2.0), p_jitter=0.8, p_blur=0.5, p_grey=0.2):
        super().__init__()
        self.jitter, self.blur_sigma = jitter, blur_sigma
        self.p = (p_jitter, p_blur, p_grey)

    def make_params(self, flat_inputs):
        u = torch.rand(8).tolist()
        b, c, s, h = self.jitter
        return {"jitter": u[0] < self.p[0], "blur": u[1] < self.p[1], "grey": u[2] < self.p[2],
                "factors": [1 + b * (2 * u[3] - 1), 1 + c * (2 * u[4] - 1), 1 + s * (2 * u[5] - 1)],
                "hue": h * (2 * u[6] - 1), "sigma": self.blur_sigma[0] + u[7] * (self.blur_sigma[1] - self.blur_sigma[0])}

    def transform(self, inpt, params):
        img = Image.fromarray(inpt.permute(1, 2, 0).numpy())
        if params["jitter"]:
            brightness, contrast, saturation = params["factors"]
            matrix = brightness * hue_rotation(params["hue"] * 2 * np.pi) @ saturation_matrix(saturation)
            img = ImageEnhance.Contrast(img.convert("RGB", tuple(np.c_[matrix, np.zeros(3)].ravel()))).enhance(contrast)
        if params["blur"]:
            img = img.filter(ImageFilter.GaussianBlur(params["sigma"]))
        if params["grey"]:
            img = img.convert("L").convert("RGB")
        return tv_tensors.wrap(torch.from_numpy(np.array(img)).permute(2, 0, 1), like=inpt)


SIMCLR_SIZE = 224           # the image size SimCLR's blur was set for (sigma up to 2 px, kernel 10 % of it)


def student_noise(kind: str, height: int) -> StudentNoise | None:
    """The noisy student's input noise: "simclr" (SimCLR's settings as they are), "scaled" (the blur scaled to
    the training crop's `height`, as SimCLR's is to 224 px, and milder hue and greyscale: a pole 2 px wide
    stays a pole) or "none"."""
    if kind == "none":
        return None
    if kind == "simclr":
        return StudentNoise()
    if kind == "scaled":
        s = height / SIMCLR_SIZE
        return StudentNoise(jitter=(0.4, 0.4, 0.4, 0.05), blur_sigma=(0.1 * s, 2.0 * s), p_grey=0.1)
    raise ValueError(f"unknown student noise {kind!r}: use none, simclr or scaled")


def train_transform(size, scale=(0.75, 1.5), flip=True, strong=False, crop=None) -> v2.Compose:
    """Random scale in `scale` (relative to `size`), random crop back to `size` = (h, w), or to `crop`
    when given (padding: image 0, mask 255, weight 0), horizontal flip; `strong` adds the noisy-student
    input noise to the image only: True (SimCLR's), a noise kind of `student_noise`, or a transform."""
    h, w = size
    crop = tuple(crop or size)
    steps = [v2.ScaleJitter((w, h), scale_range=scale, antialias=True),   # ScaleJitter takes (w, h)
             v2.RandomCrop(crop, pad_if_needed=True, fill=FILL)]
    if flip:
        steps.append(v2.RandomHorizontalFlip())
    if strong is True:
        strong = "simclr"
    noise = student_noise(strong, crop[0]) if isinstance(strong, str) else strong or None
    if noise is not None:
        steps.append(noise)
    return v2.Compose([*steps, to_dtypes])
