#!/usr/bin/env python3
"""Writes a deterministic packer workspace of N assets for the benchmark.

    python3 bench/make_workspace.py DIR N [--seed S] [--variant A|B]

Mix (by asset count): 80% blobs (64 B – 4 KiB), 15% tile banks (2–12 indexed 16×16 PNGs),
5% sound banks (1–4 short 16-bit WAVs), plus one tile bank `sprites1000` of 1,000 8×8 PNGs.
Variant B rewrites the content of every 7th source (for A → B → A). The registry is written
directly, as `packer add` would, so making 100,000 assets takes seconds.
"""
import argparse, json, os, random, struct, zlib


def png_indexed4(width, height, pixel):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    rows = b"".join(
        bytes([0]) + bytes((pixel(x, y) << 4) | pixel(x + 1, y) for x in range(0, width, 2)) for y in range(height)
    )
    plte = b"".join(bytes((i * 30 % 256, i * 70 % 256, i * 110 % 256)) for i in range(16))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 4, 3, 0, 0, 0))
            + chunk(b"PLTE", plte) + chunk(b"IDAT", zlib.compress(rows, 6)) + chunk(b"IEND", b""))


def wav(samples, rate=22050):
    data = struct.pack("<%dh" % len(samples), *samples)
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    return b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", len(data)) + data


def decl(uuid, name, ty, inputs, fmt, metadata=None):
    out = {"format": fmt, "codec": "NONE"}
    if metadata:
        out["metadata"] = metadata
    return {"schema_version": 1, "asset_uuid": uuid, "name": name, "type": ty, "inputs": inputs, "output": out,
            "preload": {"enabled": False}}


def write(path, data):
    """Writes only when the bytes differ, as a VCS checkout does when switching branches."""
    try:
        with open(path, "rb") as f:
            if f.read() == data:
                return
    except OSError:
        os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("n", type=int)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--variant", default="A")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    assets = os.path.join(a.dir, "assets")
    entries = []

    def salt(i, j=0):
        # Variant B changes every 7th source; everything else is identical to A.
        return 1 if a.variant == "B" and (i * 31 + j) % 7 == 0 else 0

    def add(i, name, root, files, ty, role, fmt, metadata=None):
        for rel, data in files:
            write(os.path.join(assets, root, rel), data)
        uuid = "bench-%08d" % i
        d = decl(uuid, name, ty, {role: [rel for rel, _ in files]}, fmt, metadata)
        write(os.path.join(assets, root, "asset.json"), json.dumps(d).encode())
        entries.append({"asset_id": i, "asset_uuid": uuid, "root": root, "included_in_build": True})

    for i in range(1, a.n + 1):
        kind = rng.random()
        shard = "g%03d" % (i % 500)
        if kind < 0.80:
            size = rng.randint(64, 4096)
            data = bytes((i * 7 + k * 13 + salt(i)) % 256 for k in range(size))
            add(i, "blob%d" % i, "%s/blob%d" % (shard, i), [("data.bin", data)], "blob", "source", "BLOB/raw_v1")
        elif kind < 0.95:
            k = rng.randint(2, 12)
            files = [("t%02d.png" % j, png_indexed4(16, 16, lambda x, y, j=j: (x + y + i + j + salt(i, j)) % 16)) for j in range(k)]
            add(i, "tiles%d" % i, "%s/tiles%d" % (shard, i), files, "tile_bank", "tiles", "TILES/indexed_v1")
        else:
            k = rng.randint(1, 4)
            files = [("s%d.wav" % j, wav([((t * (j + 3) + i + salt(i, j)) % 200 - 100) * 50 for t in range(rng.randint(500, 3000))])) for j in range(k)]
            add(i, "sfx%d" % i, "%s/sfx%d" % (shard, i), files, "sound_bank", "samples", "SOUNDS/pcm16le_v1")
    big = a.n + 1
    files = [("s%04d.png" % j, png_indexed4(8, 8, lambda x, y, j=j: (x * y + j + salt(big, j)) % 16)) for j in range(1000)]
    add(big, "sprites1000", "sprites1000", files, "tile_bank", "tiles", "TILES/indexed_v1", {"tile_size": 8})
    reg = {"schema_version": 1, "next_asset_id": big + 1, "assets": entries}
    write(os.path.join(assets, ".prometeu", "index.json"), json.dumps(reg, indent=2).encode())


if __name__ == "__main__":
    main()
