"""The embedded two-domain street-scene world: a GTA5-like source and a Cityscapes-like target.

Each image is a perspective street view built from metric 3-D shapes (road, sidewalks, facades,
vehicles, people, poles ...) seen by a pinhole camera and drawn far to near (painter's order) on a
label-id canvas and an instance canvas. Appearance is rendered from the instances: flat saturated
colours for the source, photo textures and camera effects for the target. Both domains also differ in
content (camera, layout, class priors, object sizes). Files are written in the on-disk layouts of
GTA5 and Cityscapes, so the real loaders read the world.
"""
import colorsys
import functools
import io
import json
import os
import shutil
import time
from dataclasses import dataclass
from functools import partial
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter
from tqdm import tqdm

from cityscapesscripts.helpers.labels import labels as _CS_LABELS

from thesislib.data.labels import CLASS_IDS, CLASS_NAMES, NUM_CLASSES, label_id_palette, to_train_ids
from thesislib.profiles import get_profile

VERSION = 4                                       # 4: thicker thin objects, textured source, concrete walls; 3: instanceIds
ID = dict(zip(CLASS_NAMES, CLASS_IDS))          # class name -> Cityscapes label id
UNLABELED, EGO, STATIC, GROUND = 0, 1, 4, 6      # void ids (train id 255)
CITIES = {
    "train": ("aachen", "bochum", "bremen", "cologne", "darmstadt", "zurich"),
    "val": ("frankfurt", "lindau", "munster"),
    "train_extra": ("augsburg", "bamberg", "dresden", "heidelberg", "konstanz", "mainz"),
}
_CODES = {("source", "images"): 0, ("target", "train"): 1, ("target", "val"): 2, ("target", "train_extra"): 3}
# two of these are guaranteed in every image (cycling with the index), so every split holds all classes
_RARE = ("rider", "train", "motorcycle", "bus", "truck", "bicycle", "wall", "fence", "terrain", "traffic light")
Z_NEAR = 1.0                                      # nearest depth drawn (metres)
# widths (metres) of the thin parts: a pole stays >= 2 px wide up to 30 m at 96x192 (tests/test_world.py), a
# bicycle frame is not sub-pixel (Cityscapes' polygons, too, cover a bicycle's outline rather than its tubes)
WIDTH = dict(pole=0.32, arm=0.16, torso=0.42, leg=0.2, arm_limb=0.12, frame=0.1, rim=0.12, stem=0.1)

# texture kinds; photo textures: (scikit-image photo, mapped on the ground plane?, texels per metre
# (ground) or per pixel at height 256 (screen), contrast)
T_FLAT, T_SKY, T_FENCE, T_ASPHALT, T_PAVING, T_GRASS, T_BRICK, T_FOLIAGE, T_CONCRETE = range(9)
_PHOTO_TEX = {
    T_ASPHALT: ("gravel", True, 90.0, 0.22),
    T_PAVING: ("brick", True, 160.0, 0.30),
    T_GRASS: ("grass", True, 120.0, 0.40),
    T_BRICK: ("brick", False, 4.0, 0.25),
    T_FOLIAGE: ("grass", False, 2.0, 0.55),
    T_CONCRETE: ("gravel", False, 1.0, 0.15),
}


@dataclass(frozen=True)
class Style:
    """Content priors (camera, layout, object counts) and colours of one domain."""
    horizon: tuple          # horizon row, fraction of the image height
    cam_height: tuple       # metres above the road
    focal: tuple            # focal length, fraction of the image width
    road_half: tuple        # half road width (metres)
    sidewalk: tuple         # sidewalk width (metres)
    building: tuple         # facade heights (metres)
    sides: dict             # side segment kind -> weight
    terrain_p: float        # chance of a terrain strip on a side
    verge_p: float          # chance that it lies between road and sidewalk (else beyond the sidewalk)
    tree_p: float           # chance of a row of trees on a side
    n: dict                 # expected number of each object kind per image
    vehicle_scale: float
    paint_sat: tuple        # saturation of instance paints (cars, clothing)
    grey_share: float       # share of grey/white/black instance paints
    palette: dict           # surface -> RGB (or a list to pick from)
    photographic: bool      # render with photo textures and camera effects
    texture: float = 0.0    # non-photographic only: contrast of the photo textures (0: flat colours)
    grade: float = 0.0      # non-photographic only: share of the target camera's colour grade


SOURCE = Style(   # GTA5-like: US city, higher and wider camera, wider roads, more trucks, fewer pedestrians
    horizon=(0.39, 0.47), cam_height=(1.45, 1.9), focal=(0.9, 1.15), road_half=(4.5, 7.5), sidewalk=(2.0, 4.5),
    building=(10, 35), sides=dict(building=0.4, greenery=0.3, wall=0.1, fence=0.12, street=0.08),
    terrain_p=0.6, verge_p=0.3, tree_p=0.35,
    n=dict(moving=2.5, parked=3.0, truck=0.4, bus=0.15, train=0.06, person=4.0, rider=0.6, moto_share=0.5,
           bike=0.6, moto=0.25, bin=0.6, pole_gap=(11, 25)),
    vehicle_scale=1.12, texture=1.0, grade=0.5, paint_sat=(0.55, 1.0), grey_share=0.15, photographic=False,
    palette=dict(
        sky=[(95, 160, 240), (130, 185, 245), (175, 205, 240), (205, 215, 235)], cloud=(245, 248, 255), road=(70, 70, 78),
        lane=(240, 205, 30), sidewalk=(185, 170, 150), terrain=(160, 160, 70), vegetation=(50, 145, 50),
        trunk=(120, 70, 30), glass=(50, 75, 110), wall=(200, 190, 130), fence=(140, 95, 55), pole=(200, 175, 60),
        building=[(200, 130, 90), (110, 150, 200), (215, 200, 140), (160, 110, 150), (225, 220, 210), (130, 175, 160)],
        light=(25, 25, 25), sign=[(225, 30, 30), (30, 70, 225), (245, 200, 20)], sign_inner=(250, 250, 250),
        skin=(225, 170, 125), tyre=(20, 20, 20), train=[(230, 230, 235), (60, 60, 200)], static=(110, 40, 150),
        ground=(180, 120, 70), unlabeled=(255, 60, 200), hood=(0, 0, 0)),
)
TARGET = Style(   # Cityscapes-like: European city, camera behind the windscreen, narrow roads, many people
    horizon=(0.42, 0.50), cam_height=(1.15, 1.45), focal=(1.0, 1.25), road_half=(3.5, 6.0), sidewalk=(2.5, 6.0),
    building=(10, 24), sides=dict(building=0.55, greenery=0.2, wall=0.12, fence=0.1, street=0.03),
    terrain_p=0.45, verge_p=0.6, tree_p=0.5,
    n=dict(moving=2.0, parked=5.0, truck=0.15, bus=0.12, train=0.12, person=8.0, rider=1.2, moto_share=0.25,
           bike=1.5, moto=0.15, bin=0.8, pole_gap=(9, 20)),
    vehicle_scale=1.0, paint_sat=(0.15, 0.5), grey_share=0.6, photographic=True,
    palette=dict(
        sky=(205, 212, 222), cloud=(225, 228, 232), road=(88, 86, 90), lane=(215, 215, 210), sidewalk=(150, 132, 138),
        terrain=(150, 140, 90), vegetation=(72, 98, 52), trunk=(70, 60, 50),
        building=[(150, 140, 125), (175, 165, 150), (120, 112, 108), (160, 120, 100), (190, 185, 175)],
        glass=(45, 50, 55), wall=(128, 134, 140), fence=(115, 118, 105), pole=(105, 105, 100), light=(35, 35, 30),
        sign=[(170, 45, 45), (40, 75, 150), (200, 200, 195)], sign_inner=(215, 215, 210), skin=(190, 150, 125),
        tyre=(30, 30, 30), train=[(200, 60, 50), (215, 200, 120), (210, 210, 205)], static=(70, 70, 65),
        ground=(120, 110, 100), unlabeled=(90, 90, 90), hood=(30, 32, 36)),
)
STYLES = {"source": SOURCE, "target": TARGET}


class _Painter:
    """Pinhole camera plus label and instance canvases; shapes are given in metres (x right, z ahead, y up)."""

    def __init__(self, hw, style, rng):
        self.h, self.w = hw
        self.st, self.rng = style, rng
        self.f = self.w * rng.uniform(*style.focal)
        self.hc = rng.uniform(*style.cam_height)
        self.yh = self.h * rng.uniform(*style.horizon)
        self.xv = self.w * rng.uniform(0.45, 0.55)
        self.label = Image.new("L", (self.w, self.h), ID["sky"])
        self.inst = Image.new("I", (self.w, self.h), 0)
        self.shadow = Image.new("L", (self.w, self.h), 0)
        self._draw = (ImageDraw.Draw(self.label), ImageDraw.Draw(self.inst))
        self.colours, self.textures = [self.colour("sky")], [T_SKY]

    # colours and instances
    def colour(self, name):
        """A jittered colour of a named surface (one of a list, where the palette gives several)."""
        c = self.st.palette[name]
        if isinstance(c, list):
            c = c[self.rng.integers(len(c))]
        return np.clip(np.asarray(c) * self.rng.uniform(0.85, 1.15) + self.rng.normal(0, 6, 3), 0, 255)

    def paint(self):
        """A random instance colour (car paint, clothing) in the domain's style."""
        if self.rng.random() < self.st.grey_share:
            return np.full(3, self.rng.uniform(15, 235))
        hsv = self.rng.random(), self.rng.uniform(*self.st.paint_sat), self.rng.uniform(0.3, 0.95)
        return np.array(colorsys.hsv_to_rgb(*hsv)) * 255

    def new(self, rgb, tex=T_FLAT):
        """A new instance with colour `rgb` and texture kind `tex`; returns its index."""
        self.colours.append(np.clip(rgb, 0, 255))
        self.textures.append(tex)
        return len(self.colours) - 1

    # geometry
    def px(self, x, z, y=0.0):
        z = max(z, Z_NEAR)
        return self.xv + self.f * x / z, self.yh + self.f * (self.hc - y) / z

    def fill(self, xy, lid, k, shape="polygon", **kw):
        """Draw one pixel-space shape with label id `lid` and instance `k`."""
        for draw, value in zip(self._draw, (lid, k)):
            getattr(draw, shape)(xy, **{"outline" if "width" in kw else "fill": value}, **kw)

    def poly(self, pts, lid, k):
        """A polygon of (x, z, y) points."""
        self.fill([self.px(*q) for q in pts], lid, k)

    def flat(self, x, z, pts, lid, k):
        """A polygon of (dx, dy) metres in the upright plane at depth z around ground point (x, z)."""
        self.fill([self.px(x + dx, z, dy) for dx, dy in pts], lid, k)

    def rect(self, x, z, x0, x1, y0, y1, lid, k):
        self.flat(x, z, [(x0, y0), (x1, y0), (x1, y1), (x0, y1)], lid, k)

    def disc(self, x, z, y, rx, ry, lid, k, ring=None):
        """An ellipse (a ring `ring` metres thick, if given) centred at (x, y) in the plane at depth z."""
        (x0, y0), (x1, y1) = self.px(x - rx, z, y + ry), self.px(x + rx, z, y - ry)
        kw = {} if ring is None else {"width": max(1, round(ring * self.f / z))}
        self.fill([x0, y0, max(x1, x0 + 1), max(y1, y0 + 1)], lid, k, "ellipse", **kw)

    def limb(self, x, z, a, b, width, lid, k):
        """A thick segment from a to b ((dx, dy) metres in the plane at depth z)."""
        d = np.subtract(b, a, dtype=float)
        n = np.array([-d[1], d[0]]) * width / 2 / max(np.hypot(*d), 1e-6)
        self.flat(x, z, [a + n, b + n, b - n, a - n], lid, k)

    def ground(self, x0, x1, z0, z1, lid, k):
        """A rectangle on the road plane."""
        self.poly([(x0, z0, 0), (x1, z0, 0), (x1, z1, 0), (x0, z1, 0)], lid, k)

    def box(self, x0, x1, z0, z1, y0, y1, lid, rgb, tex=T_FLAT):
        """The visible faces of an axis-aligned box, side faces shaded darker."""
        faces = []
        for x in (x0 if x0 > 0 else None, x1 if x1 < 0 else None):
            if x is not None:
                faces.append(([(x, z0, y0), (x, z1, y0), (x, z1, y1), (x, z0, y1)], 0.72))
        for y, shade, visible in ((y1, 1.12, y1 < self.hc), (y0, 0.6, y0 > self.hc)):
            if visible:
                faces.append(([(x0, z0, y), (x1, z0, y), (x1, z1, y), (x0, z1, y)], shade))
        faces.append(([(x0, z0, y0), (x1, z0, y0), (x1, z0, y1), (x0, z0, y1)], 1.0))
        for pts, shade in faces:
            self.poly(pts, lid, self.new(rgb * shade, tex))

    def side_plane(self, x0, x1):
        """x of the box side facing the camera axis, or None when the box straddles it."""
        return x0 if x0 > 0 else x1 if x1 < 0 else None

    def cast_shadow(self, x0, x1, z0, z1):
        xy = [self.px(x, z) for x, z in ((x0, z0), (x1, z0), (x1, z1), (x0, z1))]
        ImageDraw.Draw(self.shadow).polygon(xy, fill=255)


# ---------------------------------------------------------------- scene: sky, background, ground, sides
def _scene(p, forced):
    """Draw a whole street view far to near; `forced` names classes that must appear."""
    rng, st = p.rng, p.st
    zf = rng.uniform(60, 110)
    r = rng.uniform(*st.road_half)
    sides = {sign: _layout(p, r, "terrain" in forced and sign == 1) for sign in (-1, 1)}
    _sky(p)
    _background(p, zf)
    _ground(p, r, sides, zf)
    wall_side = rng.choice([-1, 1])
    for sign, side in sides.items():
        first = next((c for c in ("wall", "fence") if c in forced and sign == wall_side), None)
        _side(p, sign, r, side.facade, zf, first)
    for _, draw in sorted(_objects(p, r, sides, forced), key=lambda o: -o[0]):
        draw()
    if st.photographic:
        _hood(p)


@dataclass(frozen=True)
class _Band:
    """Cross-section of one side of the street: distances (metres) from the road axis."""
    walk: tuple       # sidewalk (from, to)
    green: tuple      # terrain strip (from, to); empty when from == to
    facade: float     # where the facades start


def _layout(p, r, terrain):
    s = p.rng.uniform(*p.st.sidewalk)
    t = p.rng.uniform(1.5, 5.0) if terrain or p.rng.random() < p.st.terrain_p else 0.0
    if p.rng.random() < p.st.verge_p:                   # road | terrain | sidewalk | facades
        return _Band((r + t, r + t + s), (r, r + t), r + t + s)
    return _Band((r, r + s), (r + s, r + s + t), r + s + t)


def _sky(p):
    if p.st.photographic:
        return
    for _ in range(p.rng.integers(0, 5)):   # cartoon clouds in the source
        cx, cy = p.rng.uniform(0, p.w), p.rng.uniform(0, p.yh * 0.7)
        rx, ry = p.w * p.rng.uniform(0.04, 0.12), p.h * p.rng.uniform(0.02, 0.05)
        p.fill([cx - rx, cy - ry, cx + rx, cy + ry], ID["sky"], p.new(p.colour("cloud")), "ellipse")


def _background(p, zf):
    """The skyline across the end of the street: blocks of buildings and trees at depth zf."""
    half = max(p.xv, p.w - p.xv) / p.f * zf + 10
    x = -half - p.rng.uniform(0, 10)
    while x < half:
        width = p.rng.uniform(6, 25)
        if p.rng.random() < 0.65:
            k = p.new(p.colour("building") * 0.9, T_BRICK)
            p.rect(x, zf, 0, width, 0, p.rng.uniform(*p.st.building) * 0.8, ID["building"], k)
        else:
            p.rect(x, zf, 0, width, 0, 3, ID["vegetation"], p.new(p.colour("vegetation"), T_FOLIAGE))
            for cx in np.arange(x + 2, x + width, 4):
                _crown(p, cx, zf, p.rng.uniform(4, 8), p.rng.uniform(2.5, 4))
        x += width


def _ground(p, r, sides, zf):
    """Road, sidewalks and terrain strips on the road plane, with lane markings."""
    rng = p.rng
    p.ground(-300, 300, Z_NEAR, zf, ID["terrain"], p.new(p.colour("terrain"), T_GRASS))
    p.ground(-r, r, Z_NEAR, zf, ID["road"], p.new(p.colour("road"), T_ASPHALT))
    for sign, side in sides.items():
        for (a, b), name, tex in ((side.walk, "sidewalk", T_PAVING), (side.green, "terrain", T_GRASS)):
            if b > a:
                p.ground(sign * a, sign * b, Z_NEAR, zf, ID[name], p.new(p.colour(name), tex))
    lane = p.new(p.colour("lane"), T_ASPHALT)
    for x in (-r + 0.3, r - 0.3):                                   # edge lines
        p.ground(x - 0.08, x + 0.08, Z_NEAR, zf, ID["road"], lane)
    for x in np.arange(-r + 3.3, r - 2.0, 3.3):                      # dashed lane lines
        for z in np.arange(rng.uniform(1, 9), zf, 9.0):
            p.ground(x - 0.07, x + 0.07, z, z + 3, ID["road"], lane)
    if rng.random() < 0.3:                                            # zebra crossing
        z = rng.uniform(8, 30)
        for x in np.arange(-r + 0.5, r - 0.5, 1.0):
            p.ground(x, x + 0.5, z, z + 3, ID["road"], lane)


def _side(p, sign, r, xf, zf, first=None):
    """Facade segments (buildings, greenery, walls, fences, side streets) along one side, far to near."""
    kinds, weights = zip(*p.st.sides.items())
    segs, z = [], Z_NEAR
    while z < zf:
        length = p.rng.uniform(8, 30)
        segs.append((p.rng.choice(kinds, p=np.array(weights) / sum(weights)), z, z + length))
        z += length
    if first:
        segs[0] = (first, Z_NEAR, max(segs[0][2], 12.0))
    for kind, z0, z1 in reversed(segs):
        _SEGMENTS[kind](p, sign, r, xf, z0, z1)


def _building(p, sign, r, xf, z0, z1, h=None):
    h = h or p.rng.uniform(*p.st.building)
    x0, x1 = sorted((sign * xf, sign * (xf + 60)))
    p.box(x0, x1, z0, z1, 0, h, ID["building"], p.colour("building"), T_BRICK)
    xw, k = sign * xf, p.new(p.colour("glass"))
    zs = np.arange(z0 + p.rng.uniform(0.5, 1.5), z1 - 1.2, p.rng.uniform(2.4, 3.6))
    for y in np.arange(1.2, h - 1.6, 3.2):
        for z in zs[p.f * 1.5 / (zs + 1.2) > 1.5]:                    # skip sub-pixel windows
            p.poly([(xw, z, y), (xw, z + 1.2, y), (xw, z + 1.2, y + 1.5), (xw, z, y + 1.5)], ID["building"], k)


def _greenery(p, sign, r, xf, z0, z1, hedge=True):
    for z in np.arange(z1 - p.rng.uniform(0, 4), z0, -p.rng.uniform(3, 7)):
        _crown(p, sign * (xf + p.rng.uniform(1.5, 5)), z, p.rng.uniform(3.5, 7), p.rng.uniform(2, 3.5))
    if hedge:
        x0, x1 = sorted((sign * xf, sign * (xf + 1)))
        p.box(x0, x1, z0, z1, 0, p.rng.uniform(0.8, 2.2), ID["vegetation"], p.colour("vegetation"), T_FOLIAGE)


def _barrier(p, sign, r, xf, z0, z1, kind):
    """A wall or fence along the side, with buildings or greenery behind it."""
    if p.rng.random() < 0.5:
        _building(p, sign, r, xf + p.rng.uniform(2, 6), z0, z1)
    else:
        _greenery(p, sign, r, xf + 1, z0, z1, hedge=False)
    x0, x1 = sorted((sign * xf, sign * (xf + 0.3)))
    h, tex = (p.rng.uniform(1.0, 3.0), T_CONCRETE) if kind == "wall" else (p.rng.uniform(1.0, 2.0), T_FENCE)
    p.box(x0, x1, z0, z1, 0, h, ID[kind], p.colour(kind), tex)


def _street(p, sign, r, xf, z0, z1):
    """A side street (or, sometimes, an open paved area) leaving the view open."""
    lid, name = (ID["road"], "road") if p.rng.random() < 0.6 else (GROUND, "ground")
    p.ground(sign * r, sign * (xf + 100), z0, z1, lid, p.new(p.colour(name), T_ASPHALT))


_SEGMENTS = {"building": _building, "greenery": _greenery, "street": _street,
             "wall": partial(_barrier, kind="wall"), "fence": partial(_barrier, kind="fence")}


def _hood(p):
    """The ego vehicle's bonnet at the bottom of Cityscapes-like frames (void)."""
    top = p.h * (1 - p.rng.uniform(0.06, 0.1))
    xs = np.linspace(0, p.w, 9)
    ys = top + (p.h - top) * 0.8 * ((xs - p.w / 2) / (p.w / 2)) ** 2
    p.fill([(0, p.h), *zip(xs, ys), (p.w, p.h)], EGO, p.new(p.colour("hood")))


# ---------------------------------------------------------------- objects, placed and sorted by depth
def _objects(p, r, sides, forced):
    """(depth, draw) for every object of the street: vehicles, people, poles, trees, clutter."""
    rng, n, out, taken = p.rng, p.st.n, [], []

    def count(kind, cls):
        c = rng.poisson(n[kind])
        return max(c, 1) if cls in forced else c

    def depth(i, cls, lo=6.0, hi=50.0):
        return rng.uniform(10, 35) if i == 0 and cls in forced else rng.uniform(lo, hi)

    def place(xs, cls, i, w, length, draw, hi=50.0, **kw):
        """Put a vehicle in the first free spot among a few tries (xs: candidate centres)."""
        for _ in range(8):
            x, z = rng.choice(xs), depth(i, cls, hi=hi)
            if all(abs(x - ox) > (w + ow) / 2 or z + length < oz0 or z > oz1 for ox, ow, oz0, oz1 in taken):
                taken.append((x, w, z, z + length))
                out.append((z, partial(draw, p, x=x, z=z, **kw)))
                return

    lanes = np.arange(-r + 1.65, r - 1.6, 3.3)
    lanes = lanes if len(lanes) else np.array([0.0])
    for cls in ("train", "bus", "truck", "car"):
        key = "moving" if cls == "car" else cls
        for i in range(count(key, cls)):
            w, length, _ = dims = np.array(_DIMS[cls]) * p.st.vehicle_scale * rng.uniform(0.9, 1.1)
            place(lanes + rng.uniform(-0.3, 0.3), cls, i, w, length, _vehicle, kind=cls, dims=dims)
    for i in range(rng.poisson(n["parked"])):
        w, length, _ = dims = np.array(_DIMS["car"]) * p.st.vehicle_scale * rng.uniform(0.9, 1.1)
        place([-(r - w / 2 - 0.2), r - w / 2 - 0.2], "car", i, w, length, _vehicle, kind="car", dims=dims)
    for i in range(count("rider", "rider")):
        moto = rng.random() < n["moto_share"]
        place([-(r - 0.8), r - 0.8], "rider", i, 0.7, 2.0, _rider, hi=30.0, moto=moto)
    for cls, key, moto in (("bicycle", "bike", False), ("motorcycle", "moto", True)):
        for i in range(count(key, cls)):
            sign, z = rng.choice([-1, 1]), depth(i, cls, 5, 35)
            a, b = sides[sign].walk
            out.append((z, partial(_two_wheeler, p, sign * (a + rng.uniform(0.4, min(1.2, b - a))), z, moto)))
    for i in range(rng.poisson(n["person"])):
        sign, z = rng.choice([-1, 1]), rng.uniform(6, 35)
        a, b = sides[sign].walk
        x = rng.uniform(-r, r) if rng.random() < 0.15 else sign * rng.uniform(a + 0.3, b - 0.2)
        out.append((z, partial(_person, p, x, z, rng.uniform(1.55, 1.95))))
    for i in range(rng.poisson(n["bin"])):
        sign, z = rng.choice([-1, 1]), rng.uniform(4, 40)
        lid = UNLABELED if not p.st.photographic and rng.random() < 0.5 else STATIC
        out.append((z, partial(_clutter, p, sign * (sides[sign].walk[1] - 0.5), z, lid)))
    light_side = rng.choice([-1, 1]) if "traffic light" in forced else 0
    for sign, side in sides.items():
        z, first = rng.uniform(3, 12), True
        while z < 70:
            kind = rng.choice(["lamp", "sign", "light", "arm"], p=[0.35, 0.35, 0.18, 0.12])
            if first and sign == light_side:
                kind, z = "light", rng.uniform(7, 15)
            out.append((z, partial(_pole, p, sign * (r + 0.4), z, kind, sign)))
            z, first = z + rng.uniform(*n["pole_gap"]), False
        if rng.random() < p.st.tree_p:
            x = sign * (sum(side.green) / 2 if side.green[1] > side.green[0] else side.walk[1] - 0.7)
            for z in np.arange(rng.uniform(3, 9), 60, rng.uniform(7, 12)):
                out.append((z, partial(_tree, p, x, z)))
    return out


_DIMS = {"car": (1.8, 4.4, 1.5), "truck": (2.5, 8.5, 3.4), "bus": (2.55, 12.0, 3.1), "train": (2.65, 28.0, 3.5)}


def _wheels(p, x0, x1, z, zs, radius, lid):
    """Round wheels on the visible side of a vehicle (centres at depths zs)."""
    xs, k = p.side_plane(x0, x1), p.new(p.colour("tyre"))
    if xs is None:
        return
    t = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    for zc in zs:
        p.poly([(xs, zc + radius * np.cos(a), radius + radius * np.sin(a)) for a in t], lid, k)


def _vehicle(p, kind, x, z, dims):
    """A car, truck, bus or tram as boxes: seen from behind right of the camera axis, from the front left of it."""
    w, length, h = dims
    x0, x1, lid = x - w / 2, x + w / 2, ID[kind]
    p.cast_shadow(x0 - 0.2, x1 + 0.3, z - 0.2, z + length)
    body = p.colour("train") if kind == "train" else p.paint()
    glass, tyre = p.colour("glass"), p.new(p.colour("tyre"))
    for xw in (x0 + 0.05, x1 - 0.35):                                   # tyres under the body
        p.rect(xw, z + 0.3, 0, 0.3, 0, 0.55, lid, tyre)
    if kind == "car":
        hb = 0.3 + 0.45 * h
        p.box(x0, x1, z, z + length, 0.3, hb, lid, body)
        p.box(x0 + 0.12, x1 - 0.12, z + 0.3 * length, z + 0.8 * length, hb, h, lid, glass)
        light = p.new((230, 30, 30) if x > 0 else (250, 245, 210))
        for xl in (x0 + 0.1, x1 - 0.4):
            p.rect(xl, z, 0, 0.3, hb - 0.25, hb - 0.08, lid, light)
        _wheels(p, x0, x1, z, (z + 0.18 * length, z + 0.8 * length), 0.32, lid)
    elif kind == "truck":
        cab, cargo = (z + length - 2.3, z + length), (z, z + length - 2.3)
        if x < 0:                                                        # oncoming: cab in front
            cab, cargo = (z, z + 2.3), (z + 2.3, z + length)
        parts = sorted([(cab, 0.8 * h, body), (cargo, h, p.colour("building"))], key=lambda q: -q[0][0])
        for (za, zb), top, rgb in parts:
            p.box(x0, x1, za, zb, 0.4, top, lid, rgb)
        if x < 0:
            p.rect(x0, z, 0.15, w - 0.15, 0.5 * h, 0.75 * h, lid, p.new(glass))
        _wheels(p, x0, x1, z, (z + 1.2, z + length - 2.0, z + length - 0.8), 0.5, lid)
    else:                                                                # bus, tram: long boxes with window bands
        p.box(x0, x1, z, z + length, 0.35, h, lid, body)
        kg = p.new(glass)
        xs = p.side_plane(x0, x1)
        if xs is not None:
            p.poly([(xs, z + 1.0, 1.3), (xs, z + length - 1.0, 1.3), (xs, z + length - 1.0, h - 0.4),
                    (xs, z + 1.0, h - 0.4)], lid, kg)
        p.rect(x0, z, 0.15, w - 0.15, 1.2, h - 0.3, lid, kg)
        if kind == "train":
            p.limb(x, z + 3, (-0.6, h), (0.4, h + 0.7), 0.06, lid, p.new(p.colour("tyre")))   # pantograph
        else:
            _wheels(p, x0, x1, z, (z + 2.2, z + length - 2.8), 0.5, lid)


def _figure(p, x, z, hip, shoulder, head, feet, hands, lid, helmet=None):
    """A human figure in the plane at depth z from its joints ((dx, dy) metres)."""
    skin, top, bottom = p.new(p.colour("skin")), p.new(p.paint()), p.new(p.paint())
    for foot in feet:
        p.limb(x, z, hip, foot, WIDTH["leg"], lid, bottom)
    p.limb(x, z, hip, shoulder, WIDTH["torso"], lid, top)
    for hand in hands:
        p.limb(x, z, (shoulder[0], shoulder[1] - 0.05), hand, WIDTH["arm_limb"], lid, top)
    p.disc(x + head[0], z, head[1], 0.11, 0.13, lid, skin)
    rx, ry, rgb = (0.11, 0.08, p.paint() * 0.4) if helmet is None else (0.14, 0.13, helmet)   # hair or helmet
    p.disc(x + head[0], z, head[1] + 0.05, rx, ry, lid, p.new(rgb))


def _person(p, x, z, height):
    """A pedestrian, standing or walking."""
    s, step = height / 1.75, p.rng.uniform(-0.22, 0.22)
    p.cast_shadow(x - 0.3, x + 0.5, z - 0.2, z + 0.4)
    _figure(p, x, z, (0, 0.92 * s), (0, 1.42 * s), (0, 1.62 * s), [(step * s, 0), (-step * s, 0)],
            [(0.27 * s + step / 3, 0.8 * s), (-0.27 * s - step / 3, 0.8 * s)], ID["person"])


def _two_wheeler(p, x, z, moto, d=None):
    """A bicycle or motorcycle in profile (d: facing right +1 / left -1); returns d."""
    d = d if d is not None else p.rng.choice([-1, 1])
    lid = ID["motorcycle"] if moto else ID["bicycle"]
    r, base = (0.32, 0.72) if moto else (0.34, 0.52)
    p.cast_shadow(x - base - 0.3, x + base + 0.3, z - 0.2, z + 0.4)
    frame = p.new(p.paint())
    if moto:
        tyre = p.new(p.colour("tyre"))
        for wx in (-base, base):
            p.disc(x + d * wx, z, r, r, r, lid, tyre)
        body = [(-0.8, 0.6), (-0.3, 0.88), (0.35, 0.95), (0.62, 0.98), (0.72, 0.6), (0.3, 0.35), (-0.45, 0.42)]
        p.flat(x, z, [(d * a, b) for a, b in body], lid, frame)
    else:
        tyre = p.new(p.colour("tyre"))
        for wx in (-base, base):
            p.disc(x + d * wx, z, r, r, r, lid, tyre, ring=WIDTH["rim"])
        joints = {"R": (-0.52, 0.34), "B": (-0.05, 0.32), "S": (-0.2, 0.88), "H": (0.38, 0.92), "F": (0.52, 0.34)}
        for a, b in ("RB", "BS", "SR", "SH", "BH", "HF"):
            (ax, ay), (bx, by) = joints[a], joints[b]
            p.limb(x, z, (d * ax, ay), (d * bx, by), WIDTH["frame"], lid, frame)
    p.limb(x, z, (d * 0.42, 0.9), (d * 0.42, 1.05), WIDTH["stem"], lid, frame)   # handlebar stem
    return d


def _rider(p, x, z, moto):
    """A cyclist or motorcyclist in profile: the vehicle (bicycle/motorcycle) plus its rider."""
    d = _two_wheeler(p, x, z, moto)
    helmet = p.paint() if moto else None
    _figure(p, x, z, (-0.2 * d, 0.95), (0.1 * d, 1.45), (0.2 * d, 1.63), [(0.02 * d, 0.35)],
            [(0.42 * d, 1.05)], ID["rider"], helmet)


def _pole(p, x, z, kind, sign):
    """A pole carrying a traffic sign, a traffic light, a lamp, or an arm with a hanging light."""
    k = p.new(p.colour("pole"))
    h = p.rng.uniform(3.0, 4.2) if kind in ("sign", "light") else p.rng.uniform(5.5, 8.0)
    p.limb(x, z, (0, 0), (0, h), WIDTH["pole"], ID["pole"], k)
    if kind == "sign":
        _sign(p, x, z, h - p.rng.uniform(0.1, 0.6))
    elif kind == "light":
        _traffic_light(p, x, z, h - 0.2)
    else:
        reach = -sign * p.rng.uniform(1.5, 4.0)
        p.limb(x, z, (0, h - 0.05), (reach, h - 0.05), WIDTH["arm"], ID["pole"], k)
        if kind == "arm":
            _traffic_light(p, x + reach, z, h - 0.1)
        else:
            p.rect(x + reach, z, -0.3, 0.3, h - 0.25, h, ID["pole"], p.new(p.colour("cloud")))


def _sign(p, x, z, y):
    """A round, triangular or rectangular traffic sign with its top at height y."""
    size, face, inner = p.rng.uniform(0.7, 1.0), p.new(p.colour("sign")), p.new(p.colour("sign_inner"))
    shape, lid = p.rng.integers(3), ID["traffic sign"]
    for scale, k in ((1.0, face), (0.7, inner)):
        a = size * scale / 2
        if shape == 0:
            p.disc(x, z, y - size / 2, a, a, lid, k)
        elif shape == 1:
            p.flat(x, z, [(-a, y - size / 2 + a), (a, y - size / 2 + a), (0, y - size / 2 - a)], lid, k)
        else:
            p.rect(x, z, -a, a, y - size / 2 - a * 0.8, y - size / 2 + a * 0.8, lid, k)


def _traffic_light(p, x, z, y):
    """A three-lamp traffic light hanging with its top at height y, one lamp lit."""
    lid = ID["traffic light"]
    p.rect(x, z, -0.22, 0.22, y - 1.2, y, lid, p.new(p.colour("light")))
    lit = p.rng.integers(3)
    for i, rgb in enumerate(((255, 40, 30), (255, 190, 20), (40, 230, 90))):
        k = p.new(rgb if i == lit else np.array(rgb) * 0.2)
        p.disc(x, z, y - 0.22 - 0.38 * i, 0.12, 0.12, lid, k)


def _crown(p, x, z, y, radius):
    """A tree crown: a few overlapping blobs of slightly different greens."""
    base = p.colour("vegetation")
    for _ in range(p.rng.integers(3, 6)):
        dx, dy = p.rng.normal(0, radius * 0.35, 2)
        rr = radius * p.rng.uniform(0.55, 0.85)
        k = p.new(base * p.rng.uniform(0.75, 1.2), T_FOLIAGE)
        p.disc(x + dx, z, y + dy, rr, rr * p.rng.uniform(0.8, 1.1), ID["vegetation"], k)


def _tree(p, x, z):
    height = p.rng.uniform(4, 8)
    p.limb(x, z, (0, 0), (0, height * 0.7), 0.3, ID["vegetation"], p.new(p.colour("trunk")))
    _crown(p, x, z, height * 0.75, p.rng.uniform(1.2, 2.5))


def _clutter(p, x, z, lid):
    """A bin or other street furniture (void)."""
    name = "static" if lid == STATIC else "unlabeled"
    p.box(x - 0.3, x + 0.3, z, z + 0.6, 0, p.rng.uniform(0.8, 1.3), lid, p.colour(name))


# ---------------------------------------------------------------- appearance
@functools.lru_cache(maxsize=None)
def _photos():
    """Standardised grey photos bundled with scikit-image (offline), or procedural noise if one is missing."""
    out = {}
    for name in ("gravel", "brick", "grass"):
        try:
            import skimage.data
            a = getattr(skimage.data, name)().astype(np.float32)
        except Exception:   # not bundled: smoothed noise of several scales
            rng = np.random.default_rng(len(name))
            a = sum(np.asarray(Image.fromarray(rng.normal(size=(s, s)).astype(np.float32)).resize((512, 512),
                    Image.BICUBIC)) for s in (8, 32, 128, 512))
        out[name] = (a - a.mean()) / (a.std() + 1e-6)
    return out


@functools.lru_cache(maxsize=4)
def _grid(h, w):
    return np.mgrid[0:h, 0:w].astype(np.float32) + 0.5


def _lowfreq(rng, h, w, cells=(4, 8)):
    """Smooth random field (zero mean, about unit std) of size (h, w)."""
    return np.asarray(Image.fromarray(rng.normal(size=cells).astype(np.float32)).resize((w, h), Image.BICUBIC))


def _texture(p, kinds):
    """Per-pixel brightness modulation from photo textures (ground-plane or screen mapped) and patterns."""
    ys, xs = _grid(p.h, p.w)
    z = p.f * p.hc / np.maximum(ys - p.yh, 0.3)
    plane = ((xs - p.xv) * z / p.f, z)                    # road-plane coordinates (metres)
    screen = (xs * 256 / p.h, ys * 256 / p.h)
    mod = np.ones((p.h, p.w), np.float32)
    for kind, (name, ground, scale, contrast) in _PHOTO_TEX.items():
        m = kinds == kind
        if m.any():
            u, v = (c[m] * scale + p.rng.uniform(0, 512) for c in (plane if ground else screen))
            photo = _photos()[name]
            mod[m] = 1 + contrast * photo[v.astype(np.int64) % photo.shape[0], u.astype(np.int64) % photo.shape[1]]
    m = kinds == T_SKY
    mod[m] = 1 + 0.06 * _lowfreq(p.rng, p.h, p.w)[m]
    m = kinds == T_FENCE
    period = max(4.0, 16 * p.h / 256)                    # a mesh still visible at a quarter of the size
    mesh = ((xs + ys) % period < 1) | ((xs - ys) % period < 1)
    mod[m] = np.where(mesh[m], 1.35, 0.8)
    return mod


def _render(p):
    """RGB uint8 image of the painter's scene in its domain's style."""
    inst = np.asarray(p.inst)
    rgb = np.stack(p.colours).astype(np.float32)[inst]
    shade = 1 - 0.45 * np.asarray(p.shadow, np.float32) / 255
    kinds = np.asarray(p.textures, np.uint8)[inst]
    if not p.st.photographic:                             # source: saturated colours, hard edges, clean
        texture = 1 + p.st.texture * (_texture(p, kinds) - 1) if p.st.texture else 1.0
        img = rgb * (shade * texture * p.rng.uniform(0.85, 1.15))[..., None]
        if p.st.grade:
            img = (1 - p.st.grade) * img + p.st.grade * _grade(img, p.rng)
        fade = p.rng.uniform(0, 0.1)                      # weather: washes colours toward grey
        return np.clip(img * (1 - fade) + fade * img.mean(), 0, 255).astype(np.uint8)
    return _photograph(p, rgb * (shade * _texture(p, kinds))[..., None])


def _grade(img, rng):
    """The target camera's colour grade: muted colours, slight green tint, low contrast with lifted blacks."""
    grey = img.mean(-1, keepdims=True)
    img = grey + rng.uniform(0.45, 0.7) * (img - grey)
    return (0.75 * img + 20) * np.float32([0.93, 1.0, 0.96])


def _photograph(p, img):
    """Camera effects: lighting gradient, colour cast, haze, vignetting, blur, sensor noise, JPEG."""
    rng, (ys, xs) = p.rng, _grid(p.h, p.w)
    yn, xn = ys / p.h - 0.5, xs / p.w - 0.5
    light = 1 + rng.uniform(-0.3, 0.3) * xn + rng.uniform(-0.3, 0.3) * yn + 0.05 * _lowfreq(rng, p.h, p.w)
    vignette = 1 - rng.uniform(0.3, 0.8) * (xn ** 2 + yn ** 2)
    cast = rng.uniform(0.8, 1.1) * (1 + rng.normal(0, 0.05, 3)).astype(np.float32)
    img = img * (light * vignette)[..., None] * cast
    img = _grade(img, rng)
    haze = rng.uniform(0.15, 0.45) * np.exp(-np.abs(ys - p.yh) / (0.12 * p.h))
    img += (p.colours[0].astype(np.float32) - img) * haze[..., None]
    im = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    im = im.filter(ImageFilter.GaussianBlur(rng.uniform(0.4, 1.0) * p.h / 256))
    noisy = np.asarray(im, np.float32) + rng.standard_normal((p.h, p.w, 3), np.float32) * rng.uniform(2, 6)
    buf = io.BytesIO()
    Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=int(rng.integers(35, 80)))
    return np.asarray(Image.open(buf).convert("RGB"))


def generate(domain, hw, seed, split, index):
    """(RGB image, label-id map, instance-id map) of one image: a pure function of its arguments."""
    rng = np.random.default_rng([seed, _CODES[domain, split], index])
    p = _Painter(hw, STYLES[domain], rng)
    forced = {_RARE[(2 * index) % len(_RARE)], _RARE[(2 * index + 1) % len(_RARE)]}
    _scene(p, forced)
    ids = np.asarray(p.label)
    return _render(p), ids, instance_ids(ids, np.asarray(p.inst))


def instance_ids(ids: np.ndarray, inst: np.ndarray) -> np.ndarray:
    """Cityscapes instanceIds: label id * 1000 + instance number (from 0) on classes that have instances
    (person, rider, vehicles), the plain label id elsewhere; int32."""
    out = ids.astype(np.int32)
    things = np.isin(ids, [l.id for l in _CS_LABELS if l.hasInstances])
    for lid in np.unique(ids[things]):
        sel = ids == lid
        _, number = np.unique(inst[sel], return_inverse=True)
        out[sel] = int(lid) * 1000 + number.reshape(-1)
    return out


# ---------------------------------------------------------------- files
def _files(prof):
    """(domain, split, index, image path, label path or None) of every image, paths relative to the world."""
    for i in range(prof.n_source):
        yield "source", "images", i, f"gta5/images/{i + 1:05d}.png", f"gta5/labels/{i + 1:05d}.png"
    for split, n in (("train", prof.n_train), ("val", prof.n_val), ("train_extra", prof.n_extra)):
        cities = CITIES[split]
        for i in range(n):
            city, seq = cities[i % len(cities)], i // len(cities)
            stem = f"{city}/{city}_{seq:06d}_{19:06d}"
            label = None if split == "train_extra" else f"cityscapes/gtFine/{split}/{stem}_gtFine_labelIds.png"
            yield "target", split, i, f"cityscapes/leftImg8bit/{split}/{stem}_leftImg8bit.png", label


def _write_one(job):
    """Generate and save one image (and its label); returns (group, train-id pixel counts)."""
    root, hw, seed, (domain, split, i, image, label) = job
    rgb, ids, inst = generate(domain, hw, seed, split, i)
    instances = label and domain == "target" and label.replace("_labelIds.png", "_instanceIds.png")
    for rel, arr, mode in ((image, rgb, "RGB"), (label, ids, "L"), (instances or None, inst, "I")):
        if rel is None:
            continue
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        im = Image.fromarray(arr.astype(np.uint16)) if mode == "I" else Image.fromarray(arr, mode)  # 16-bit, as Cityscapes
        if domain == "source" and mode == "L":                         # GTA5 labels are palettised
            im = im.convert("P")
            im.putpalette(label_id_palette())
        im.save(path, compress_level=3)
    return f"{domain}/{split}", np.bincount(to_train_ids(ids).ravel(), minlength=256)[:NUM_CLASSES]


def _meta(prof, seed):
    counts = {"source": prof.n_source, "train": prof.n_train, "val": prof.n_val, "train_extra": prof.n_extra}
    return {"profile": prof.name, "seed": seed, "version": VERSION, "world_hw": list(prof.world_hw),
            "source_hw": list(source_hw(prof)), "counts": counts}


def identity(prof) -> dict:
    """What the world of a profile is, for stage keys: the generator's version, the sizes and the source
    rendering's texture and grade (every image is a pure function of them, `generate`), not the generator's
    source text."""
    return {**{k: v for k, v in _meta(prof, 0).items() if k != "profile"},
            "source_texture": SOURCE.texture, "source_grade": SOURCE.grade}


def source_hw(prof) -> tuple[int, int]:
    """The size of the GTA5-like images (GTA5 itself is 1052x1914, not Cityscapes' 1024x2048)."""
    return tuple(prof.source_world_hw or prof.world_hw)


def _existing(out, meta):
    """The summary of a complete identical world at `out`, None if `out` is free; raises if it holds another."""
    info = out / "world.json"
    if info.is_file():
        old = json.loads(info.read_text())
        if all(old.get(k) == v for k, v in meta.items()):
            return old
        raise ValueError(f"{out} already holds a different world (profile={old.get('profile')}, seed="
                         f"{old.get('seed')}, version={old.get('version')}): pass another --out or delete it")
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"{out} is not empty and holds no complete world: pass another --out or delete it")
    return None


def write_world(out, profile="default", seed=0, workers=None, progress=True) -> dict:
    """Write the embedded world (GTA5-like source, Cityscapes-like target) of a profile (a name or a
    Profile) under `out`; returns a summary.

    Idempotent: a complete world of the same profile, seed and version is left as it is. Writing is
    atomic: images go to a temporary sibling folder renamed into place after world.json is written.
    """
    start, out = time.time(), Path(out)
    prof = get_profile(profile) if isinstance(profile, str) else profile
    meta = _meta(prof, seed)
    old = _existing(out, meta)
    if old is not None:
        return {**old, "seconds": 0.0, "reused": True}
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    jobs = [(tmp, source_hw(prof) if f[0] == "source" else prof.world_hw, seed, f) for f in _files(prof)]
    pixels = {}
    try:
        workers = workers or os.cpu_count() or 1
        with Pool(workers) if workers > 1 else _Serial() as pool:
            results = pool.imap_unordered(_write_one, jobs, chunksize=4)
            for group, counts in tqdm(results, total=len(jobs), desc="world", disable=not progress):
                pixels[group] = pixels.get(group, 0) + counts
        share = {g: dict(zip(CLASS_NAMES, np.round(c / c.sum(), 5).tolist())) for g, c in sorted(pixels.items())}
        summary = {**meta, "class_share": share}
        (tmp / "world.json").write_text(json.dumps(summary, indent=1))
        if out.exists():
            out.rmdir()                                                  # empty, checked above
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {**summary, "seconds": round(time.time() - start, 1), "reused": False}


class _Serial:
    """A stand-in for multiprocessing.Pool that runs in this process."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def imap_unordered(self, fn, jobs, chunksize=1):
        return map(fn, jobs)
