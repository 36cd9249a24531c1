#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# gen-disk.py PATH BYTES: writes disk-like benchmark data, deterministic.
# Per 4 KiB block: 25% random, 10% zeros, 30% text-like (~2x compressible),
# 35% repeated 256-byte records; about 2x compressible overall.
import random
import sys

path, size = sys.argv[1], int(sys.argv[2])
rng = random.Random(0x1D15C0DE)
text = bytes(b"etaoinshrdlucmfw"[i & 15] for i in range(256))
B, CH = 4096, 1 << 20
zero = bytes(B)
with open(path, "wb") as f:
    left = size
    while left > 0:
        n = min(CH, left)
        raw = rng.randbytes(n)
        out = bytearray(raw)
        for o in range(0, n, B):
            r = rng.random()
            if r < 0.25:
                pass                                   # incompressible
            elif r < 0.35:
                out[o:o + B] = zero                    # zeros (not a whole-cluster hole)
            elif r < 0.65:
                out[o:o + B] = raw[o:o + B].translate(text)  # text-like, ~2x
            else:
                out[o:o + B] = raw[o:o + 256].translate(text) * (B // 256)  # records
        f.write(out)
        left -= n
