#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Test-only encryptor: wraps a disk image (a DMG, sparse image or raw disk)
in an Apple `encrcdsa` version 2 container, as hdiutil does for encrypted
images. Written from the format's public description (libmodi notes, the
VileFault paper), with python3-cryptography; no Linux tool writes these.

Layout (big-endian): 76-byte header, key-slot pointers (type, offset, size),
passphrase slots (PBKDF2-HMAC-SHA1 -> 3DES-EDE-CBC wrapped blob of AES key,
HMAC-SHA1 key and "CKIE", PKCS#7 padded), then the data: AES-CBC per block,
IV = HMAC-SHA1(hmac key, be32 block number)[:16].

The first passphrase slot sits at 0x2a8, where Debian's vfdecrypt looks for
it (vfdecrypt does not read the slot table). vfdecrypt also always uses 20
salt bytes and 1000 iterations, and takes the HMAC key from the blob's first
20 bytes instead of after the AES key; --vfdecrypt-keys makes the HMAC key
K || K[:4] so both readings agree (AES-128 only).

Prints the AES and HMAC keys as one hex string (vfdecrypt -k) on stdout.
"""
import argparse
import hashlib
import hmac
import os
import struct
import sys

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

try:
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
except ImportError:  # older python3-cryptography
    TripleDES = algorithms.TripleDES

HEADER = 76
POINTER = 20
SLOT_FIXED = 104


def password_slot(passphrase, iterations, aes_key, hmac_key):
    salt = os.urandom(20)
    iv = os.urandom(8)
    derived = hashlib.pbkdf2_hmac("sha1", passphrase, salt, iterations, 24)
    padder = padding.PKCS7(64).padder()
    plain = padder.update(aes_key + hmac_key + b"CKIE") + padder.finalize()
    enc = Cipher(TripleDES(derived), modes.CBC(iv)).encryptor()
    blob = enc.update(plain) + enc.finalize()
    return (struct.pack(">IIII", 103, 0, iterations, len(salt)) + salt.ljust(32, b"\0") +
            struct.pack(">I", 8) + iv.ljust(32, b"\0") +
            struct.pack(">IIIII", 192, 17, 7, 6, len(blob)) + blob)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--passphrase-file", required=True)
    ap.add_argument("--key-bits", type=int, choices=(128, 256), default=128)
    ap.add_argument("--iterations", type=int, default=1000)
    ap.add_argument("--block-size", type=int, default=4096)
    ap.add_argument("--data-offset", type=int, default=0x2000)
    ap.add_argument("--vfdecrypt-keys", action="store_true")
    ap.add_argument("--decoy-passphrase", help="a first slot for another passphrase")
    ap.add_argument("--public-key-slot", action="store_true")
    a = ap.parse_args()

    passphrase = open(a.passphrase_file, "rb").read()
    aes_key = os.urandom(a.key_bits // 8)
    hmac_key = os.urandom(20)
    if a.vfdecrypt_keys:
        assert a.key_bits == 128
        hmac_key = aes_key + aes_key[:4]

    slots = []  # (type, offset, bytes)
    if a.decoy_passphrase is not None:
        slots.append((1, 0x600, password_slot(a.decoy_passphrase.encode(), a.iterations,
                                              os.urandom(a.key_bits // 8), os.urandom(20))))
    if a.public_key_slot:
        slots.append((2, 0x800, b"\0" * 64))
    slots.append((1, 0x2A8, password_slot(passphrase, a.iterations, aes_key, hmac_key)))

    data = open(a.input, "rb").read()
    bs = a.block_size
    header = bytearray(a.data_offset)
    struct.pack_into(">8sIIIIIII16sIQQI", header, 0, b"encrcdsa", 2, 16, 5, 0x80000001,
                     a.key_bits, 0x80000001, 160, os.urandom(16), bs, len(data),
                     a.data_offset, len(slots))
    for i, (kind, off, body) in enumerate(slots):
        struct.pack_into(">IQQ", header, HEADER + POINTER * i, kind, off, len(body))
        assert off + len(body) <= a.data_offset
        header[off:off + len(body)] = body

    with open(a.output, "wb") as out:
        out.write(header)
        aes = algorithms.AES(aes_key)
        for n in range(0, (len(data) + bs - 1) // bs):
            block = data[n * bs:(n + 1) * bs].ljust(bs, b"\0")
            iv = hmac.new(hmac_key, struct.pack(">I", n), hashlib.sha1).digest()[:16]
            enc = Cipher(aes, modes.CBC(iv)).encryptor()
            out.write(enc.update(block) + enc.finalize())
    sys.stdout.write((aes_key + hmac_key).hex() + "\n")


if __name__ == "__main__":
    main()
