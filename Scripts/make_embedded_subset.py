#!/usr/bin/env python3
"""Builds the embedded Fashion-MNIST subset shipped as a package resource.

Takes, in file order, the first 600 training and the first 100 test images of each class from the
official Fashion-MNIST IDX files (MIT licence, Copyright (c) 2017 Zalando SE) and writes them as
gzipped IDX files (gzip mtime 0, so the output is reproducible).

    python3 Scripts/make_embedded_subset.py ../shared/datasets/fashion-mnist \
        Sources/LocalLearning/Resources/fashion-mnist-subset
"""
import gzip, struct, sys


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return dims, data[4 + 4 * ndim:]


def write_idx(path, dims, payload):
    header = bytes([0, 0, 8, len(dims)]) + struct.pack(">" + "I" * len(dims), *dims)
    with open(path, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as f:
            f.write(header + payload)


def subset(src, dst, prefix, per_class):
    (n, h, w), pixels = read_idx(f"{src}/{prefix}-images-idx3-ubyte.gz")
    _, labels = read_idx(f"{src}/{prefix}-labels-idx1-ubyte.gz")
    taken, keep = [0] * 10, []
    for i, label in enumerate(labels):
        if taken[label] < per_class:
            taken[label] += 1
            keep.append(i)
    size = h * w
    write_idx(f"{dst}/{prefix}-images-idx3-ubyte.gz", (len(keep), h, w),
              b"".join(pixels[i * size:(i + 1) * size] for i in keep))
    write_idx(f"{dst}/{prefix}-labels-idx1-ubyte.gz", (len(keep),), bytes(labels[i] for i in keep))
    print(f"{prefix}: {len(keep)} samples")


if __name__ == "__main__":
    source, target = sys.argv[1], sys.argv[2]
    subset(source, target, "train", 600)
    subset(source, target, "t10k", 100)
