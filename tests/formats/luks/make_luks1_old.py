#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A test-only LUKS1 writer for the LUKS 1.0 on-disk layout, from the LUKS
On-Disk Format Specification (1.2.x; the header is unchanged since 1.0) and
python3-cryptography. It shares no code with imgfs: the imgfs test reads its
output back, and cryptsetup luksDump and qemu-img check it too.

cryptsetup 1.0.0 wrote key material right after the 592-byte header, at
sector 2, each key slot's area following the previous one directly
(ceil(key_bytes * 4000 / 512) sectors), and the payload right after the last
area; cryptsetup 1.0.1 and later align every area and the payload to 4096
bytes (sector 8, 8 + 8k ...). --first-slot-sector 8 gives the other old
shape this test also covers: the first area aligned, the rest unaligned.
--payload-gap moves the payload a few (unaligned) sectors further.
--align-slots gives the later layout (areas at sector 8 + 8k-aligned
steps) with the payload still unaligned after them: qemu-img reads only
that one, since it rounds every key slot area up to 4096 bytes and wants
the first at 4096 ("Keyslots 0 and 1 are overlapping", "Keyslot 0 is
overlapping with the LUKS header" for the two 1.0 shapes).

  make_luks1_old.py PLAIN OUT --passphrase-file F [--key-bytes 16]
      [--mode cbc-essiv:sha256] [--hash sha1] [--slots 0,3]
      [--first-slot-sector 2] [--payload-gap 0] [--align-slots]
      [--iterations 1000]

PLAIN's bytes become the payload (a whole number of 512-byte sectors)."""

import argparse
import hashlib
import math
import os
import struct
import uuid

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from cryptography.hazmat.primitives import hashes

SECTOR = 512
STRIPES = 4000
HEADER_BYTES = 592
ACTIVE, INACTIVE = 0x00AC71F3, 0x0000DEAD
HASHES = {"sha1": hashes.SHA1, "sha256": hashes.SHA256, "sha512": hashes.SHA512}


def pbkdf2(hash_name, secret, salt, iterations, length):
    kdf = PBKDF2HMAC(algorithm=HASHES[hash_name](), length=length, salt=salt,
                     iterations=iterations)
    return kdf.derive(secret)


def diffuse(block, hash_name):
    """The AF diffusion: each digest-sized piece i becomes H(be32(i) || piece),
    the last, shorter piece truncated."""
    size = hashlib.new(hash_name).digest_size
    out = b""
    for i in range(0, len(block), size):
        piece = block[i:i + size]
        out += hashlib.new(hash_name, struct.pack(">I", i // size) + piece).digest()[:len(piece)]
    return out


def af_split(key, stripes, hash_name):
    d = bytes(len(key))
    parts = []
    for _ in range(stripes - 1):
        s = os.urandom(len(key))
        parts.append(s)
        d = diffuse(bytes(a ^ b for a, b in zip(d, s)), hash_name)
    parts.append(bytes(a ^ b for a, b in zip(d, key)))
    return b"".join(parts)


def encrypt_sectors(key, mode, data):
    """AES in `mode` over 512-byte sectors numbered from 0."""
    out = []
    if mode == "cbc-essiv:sha256":
        essiv = Cipher(algorithms.AES(hashlib.sha256(key).digest()), modes.ECB()).encryptor()
    for n in range(len(data) // SECTOR):
        if mode == "cbc-plain":
            iv = struct.pack("<I", n & 0xffffffff) + bytes(12)
        elif mode == "cbc-essiv:sha256":
            iv = essiv.update(struct.pack("<Q", n) + bytes(8))
        else:
            raise SystemExit("unsupported mode " + mode)
        enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
        out.append(enc.update(data[n * SECTOR:(n + 1) * SECTOR]) + enc.finalize())
    return b"".join(out)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("plain")
    p.add_argument("out")
    p.add_argument("--passphrase-file", required=True)
    p.add_argument("--key-bytes", type=int, default=16)
    p.add_argument("--mode", default="cbc-essiv:sha256")
    p.add_argument("--hash", default="sha1")
    p.add_argument("--slots", default="0")
    p.add_argument("--first-slot-sector", type=int, default=2)
    p.add_argument("--payload-gap", type=int, default=0)
    p.add_argument("--align-slots", action="store_true")
    p.add_argument("--iterations", type=int, default=1000)
    a = p.parse_args()
    passphrase = open(a.passphrase_file, "rb").read()
    plain = open(a.plain, "rb").read()
    assert len(plain) % SECTOR == 0
    assert a.first_slot_sector * SECTOR >= HEADER_BYTES

    key = os.urandom(a.key_bytes)
    area_sectors = math.ceil(a.key_bytes * STRIPES / SECTOR)
    step = math.ceil(area_sectors / 8) * 8 if a.align_slots else area_sectors
    offsets = [a.first_slot_sector + i * step for i in range(8)]
    payload = offsets[7] + area_sectors + a.payload_gap

    mk_salt = os.urandom(32)
    mk_digest = pbkdf2(a.hash, key, mk_salt, a.iterations, 20)
    header = b"LUKS\xba\xbe" + struct.pack(">H", 1)
    header += b"aes".ljust(32, b"\0") + a.mode.encode().ljust(32, b"\0")
    header += a.hash.encode().ljust(32, b"\0")
    header += struct.pack(">II", payload, a.key_bytes) + mk_digest + mk_salt
    header += struct.pack(">I", a.iterations) + str(uuid.uuid4()).encode().ljust(40, b"\0")
    image = bytearray(payload * SECTOR)
    active = {int(s) for s in a.slots.split(",")}
    for i in range(8):
        if i in active:
            salt = os.urandom(32)
            slot_key = pbkdf2(a.hash, passphrase, salt, a.iterations, a.key_bytes)
            material = af_split(key, STRIPES, a.hash)
            material += bytes(area_sectors * SECTOR - len(material))
            start = offsets[i] * SECTOR
            image[start:start + len(material)] = encrypt_sectors(slot_key, a.mode, material)
            header += struct.pack(">II", ACTIVE, a.iterations) + salt
        else:
            header += struct.pack(">II", INACTIVE, 0) + bytes(32)
        header += struct.pack(">II", offsets[i], STRIPES)
    assert len(header) == HEADER_BYTES
    image[:HEADER_BYTES] = header
    image += encrypt_sectors(key, a.mode, plain)
    with open(a.out, "wb") as f:
        f.write(image)


if __name__ == "__main__":
    main()
