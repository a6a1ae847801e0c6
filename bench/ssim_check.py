#!/usr/bin/python3
"""The independent check of issue 14's calibration target: SSIM computed by scikit-image
(not by imgbatch's own libvips-built SSIM) of every fixed-50 and auto output that
bench/quality_auto --dump wrote, against its source photo.

    ssim_check.py PHOTOS_DIR DUMP_DIR

Sources and outputs are decoded with Pillow (EXIF orientation applied, as imgbatch does);
SSIM is skimage.metrics.structural_similarity on the luma (ITU-R 601-2, Pillow's "L"),
Gaussian window sigma 1.5 as Wang et al. 2004. Prints one line per photo and a summary:
the worst photo's SSIM under auto against the worst under fixed 50 (target: auto no lower
than fixed 50 minus 0.005).
"""
import os
import sys

import numpy as np
from PIL import Image, ImageOps
from skimage.metrics import structural_similarity


def luma(path):
    with Image.open(path) as image:
        return np.asarray(ImageOps.exif_transpose(image).convert("L"), dtype=np.float64)


def ssim(reference, candidate):
    return structural_similarity(reference, candidate, data_range=255, gaussian_weights=True,
                                 sigma=1.5, use_sample_covariance=False)


def main():
    photos, dump = sys.argv[1], sys.argv[2]
    worst = {"q50": 1.0, "auto": 1.0}
    for name in sorted(os.listdir(photos)):
        stem, _ = os.path.splitext(name)
        reference = luma(os.path.join(photos, name))
        scores = {}
        for kind in ("q50", "auto"):
            path = os.path.join(dump, f"{stem}.{kind}.jpg")
            if not os.path.exists(path):
                continue
            scores[kind] = ssim(reference, luma(path))
            worst[kind] = min(worst[kind], scores[kind])
        print(f"ssim_check photo={stem} " + " ".join(f"{k}={v:.4f}" for k, v in scores.items()))
    gap = worst["auto"] - worst["q50"]
    verdict = "ok" if gap >= -0.005 else "MISSED"
    print(f"ssim_check skimage worst_auto={worst['auto']:.4f} worst_fixed50={worst['q50']:.4f} "
          f"auto_minus_fixed50={gap:+.4f} (target >= -0.005: {verdict})")


if __name__ == "__main__":
    main()
