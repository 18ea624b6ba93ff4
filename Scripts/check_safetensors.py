#!/usr/bin/env python3
"""Open a safetensors file written by locallearn (`locallearn export`, or a checkpoint) with the
`safetensors` library when it is installed, and with a plain NumPy reader of the format either way;
print every tensor's shape and sum (compare with `locallearn export`'s listing) and check both agree.

    python3 Scripts/check_safetensors.py weights.safetensors
"""
import json, struct, sys
import numpy as np

DTYPES = {"F32": np.float32, "F64": np.float64, "I32": np.int32, "I64": np.int64, "U64": np.uint64, "U8": np.uint8}


def read_plain(path):
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    metadata = header.pop("__metadata__", {})
    tensors = {name: np.frombuffer(body[a:b], dtype=np.dtype(DTYPES[info["dtype"]]).newbyteorder("<")).reshape(info["shape"])
               for name, info in header.items() for a, b in [info["data_offsets"]]}
    return tensors, metadata


def main(path):
    plain, metadata = read_plain(path)
    print(f"{path}: {len(plain)} tensors, metadata {metadata}")
    try:
        from safetensors.numpy import load_file
        library = load_file(path)
        assert library.keys() == plain.keys(), "the safetensors library sees other tensor names"
        for name in plain:
            assert np.array_equal(library[name], plain[name]), f"{name} differs between readers"
        print("safetensors library: same names, shapes and values")
    except ImportError:
        print("(safetensors library not installed; plain NumPy reader only)")
    for name in sorted(plain):
        t = plain[name]
        total = f"  sum {t.astype(np.float64).sum():.6f}" if t.dtype.kind == "f" else ""
        print(f"  {name} {t.dtype} {list(t.shape)}{total}")


if __name__ == "__main__":
    main(sys.argv[1])
