#!/usr/bin/python3
"""Writes the small JPEG and PNG files of tests/data/test_image.cpp with PIL (Debian python3-pil), and PIL's decoding
of each (what nerve's read_image must return) in expected.txt: `file mode C H W bytes...`, bytes in (C, H, W) order.
Run with Debian's /usr/bin/python3:  /usr/bin/python3 tests/data/images/make_images.py
"""
import os

from PIL import Image

here = os.path.dirname(os.path.abspath(__file__))
W, H = 9, 7
rgb = Image.new("RGB", (W, H))
rgb.putdata([((x * 37 + y * 11) % 256, (x * 5 + y * 53) % 256, (x * y * 7 + 90) % 256) for y in range(H) for x in range(W)])
rgba = Image.new("RGBA", (W, H))
rgba.putdata([(r, g, b, (r + g) % 256) for (r, g, b) in rgb.getdata()])
files = {
    "rgb_q90.jpg": lambda p: rgb.save(p, quality=90),
    "gray_q75.jpg": lambda p: rgb.convert("L").save(p, quality=75),
    "rgba.png": lambda p: rgba.save(p),
    "palette.png": lambda p: rgb.convert("P", palette=Image.ADAPTIVE, colors=8).save(p),
}
lines = []
for name, save in files.items():
    path = os.path.join(here, name)
    save(path)
    im = Image.open(path)
    for mode, pil_mode in (("rgb", "RGB"), ("gray", "L")):
        d = im.convert(pil_mode)
        c = len(d.getbands())
        chw = [d.getpixel((x, y))[k] if c > 1 else d.getpixel((x, y)) for k in range(c) for y in range(H) for x in range(W)]
        lines.append(" ".join([name, mode, str(c), str(H), str(W)] + [str(v) for v in chw]))
with open(os.path.join(here, "expected.txt"), "w") as f:
    f.write("\n".join(lines) + "\n")
print("wrote %d files and %d decodings" % (len(files), len(lines)))
