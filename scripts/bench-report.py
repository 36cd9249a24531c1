#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# bench-report.py: the markdown table of bench-fuse.sh and bench-nbd.sh.
# Usage: bench-report.py fuse|nbd RESULTS "TOOLS" "VARIANTS"
# RESULTS holds one sample per line: round, variant, tool, metric, value
# (tab-separated; "na" when the tool could not run). Each cell is the
# median over rounds (peak RSS: the maximum). The last column divides
# imgfs by the best anchor -- every tool but imgfs, "base" and "disk" --
# so that a ratio above 1 always means imgfs is better.
import os
import statistics
import sys
from collections import defaultdict

METRICS = {  # key, label, higher is better, format
    "fuse": [
        ("seqd", "seq 1M direct, MB/s", True, "{:.0f}"),
        ("seqb", "seq 1M buffered, MB/s", True, "{:.0f}"),
        ("rand1", "rand 4k direct, IOPS, 1 reader", True, "{:.0f}"),
        ("rand2", "rand 4k direct, IOPS, 2 readers", True, "{:.0f}"),
        ("cpu_seq", "server CPU s per seq pass", False, "{:.2f}"),
        ("cpu_rand", "server CPU us per rand read", False, "{:.0f}"),
        ("disk_rand", "disk KiB fetched per rand read", False, "{:.1f}"),
        ("rss", "server peak RSS, MiB", False, "{:.0f}"),
    ],
    "nbd": [
        ("seq1", "seq 1M (nbdcopy), MB/s, 1 conn", True, "{:.0f}"),
        ("seq4", "seq 1M (nbdcopy), MB/s, 4 conn", True, "{:.0f}"),
        ("rand1", "rand 4k (fio nbd), IOPS, 1 conn", True, "{:.0f}"),
        ("rand4", "rand 4k (fio nbd), IOPS, 4 conn", True, "{:.0f}"),
        ("cpu_seq", "server CPU s per seq pass (1 conn)", False, "{:.2f}"),
    ],
}
NAMES = {"qcow2": "qcow2", "zlib": "qcow2 zlib", "zstd": "qcow2 zstd", "raw": "raw",
         "vmdk": "vmdk monolithicSparse", "vmdks": "vmdk streamOptimized",
         "vpc": "vpc dynamic", "vhdx": "vhdx dynamic", "vdi": "vdi dynamic",
         "parallels": "parallels", "qed": "qed", "cloop": "cloop (zlib, 64 KiB blocks)",
         "luks": "LUKS1 aes-xts-plain64"}


def main():
    kind, path, tools, variants = sys.argv[1], sys.argv[2], sys.argv[3].split(), sys.argv[4].split()
    vals = defaultdict(list)
    for line in open(path):
        _, v, tool, metric, value = line.rstrip("\n").split("\t")
        if value != "na":
            vals[(v, tool, metric)].append(float(value))
    anchors = [t for t in tools if t not in ("imgfs", "base", "disk")]
    print("| image | metric | " + " | ".join(tools) + " | imgfs vs best anchor |")
    print("|---|---|" + "---:|" * len(tools) + "---:|")
    for v in variants:
        for key, label, higher, fmt in METRICS[kind]:
            med = {}
            for t in tools:
                xs = vals.get((v, t, key))
                if xs:
                    med[t] = max(xs) if key == "rss" else statistics.median(xs)
            if not med:
                continue
            cells = [fmt.format(med[t]) if t in med else "n/a" for t in tools]
            ratio = "n/a"
            have = [med[a] for a in anchors if a in med]
            if med.get("imgfs") and have:
                best = max(have) if higher else min(have)
                ratio = f"{(med['imgfs'] / best if higher else best / med['imgfs']):.2f}x"
            print(f"| {NAMES.get(v, v)} | {label} | " + " | ".join(cells) + f" | {ratio} |")
    loads = [x for (_, _, k), xs in vals.items() if k == "load" for x in xs]
    if loads:
        print(f"\nLoad average (1 min) at the start of each measurement: median "
              f"{statistics.median(loads):.1f}, min {min(loads):.1f}, max {max(loads):.1f} "
              f"on {os.cpu_count()} CPUs.")


if __name__ == "__main__":
    main()
