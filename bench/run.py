#!/usr/bin/env python3
"""packer's scaling benchmark. Measures, in one run and side by side:

  packer gen cold and with nothing changed; a no-op ninja (vs a minimal graph with as many
  edges); touch of every source; one file edited; one sprite of a 1,000-sprite bank edited;
  a full clean build; switching content A -> B -> A; the same graph as a plain mtime
  build.ninja calling the same conversions without gating; the same graph as a CMake
  project (configure + generate with -G Ninja); the hashing floor (examples/hash_floor.rs);
  a gated `packer step` with nothing to do vs /bin/true, both spawned as Ninja spawns them
  (examples/spawn_time.rs); peak memory of gen.

Writes bench/RESULTS.md. Usage (from the repository root):

    python3 bench/run.py                 # N = 1000 and 10000, gen-only at 100000
    python3 bench/run.py --sizes 1000    # quick
    python3 bench/run.py --sizes 10000 --before /path/to/old/packer
                                         # the same rows for an older binary and this one,
                                         # interleaved in one run: bench/COMPARE.md
"""
import argparse, json, os, platform, re, shutil, statistics, subprocess, sys, tempfile, time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
PACKER = os.path.join(ROOT, "target/release/packer")
FLOOR = os.path.join(ROOT, "target/release/examples/hash_floor")
SPAWN = os.path.join(ROOT, "target/release/examples/spawn_time")
NINJA = os.environ.get("NINJA", "ninja")


def run(cmd, cwd, env=None, check=True, stdin=None):
    """Runs a command; returns (seconds, peak RSS in KiB of that child, stdout)."""
    t = time.perf_counter()
    p = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.PIPE if stdin else None,
                         env={**os.environ, **(env or {})}, shell=isinstance(cmd, str))
    out, err = p.communicate(stdin)
    secs = time.perf_counter() - t
    _, status, usage = os.wait4(p.pid, 0) if p.returncode is None else (0, 0, None)
    if check and p.returncode != 0:
        sys.exit(f"{cmd} failed in {cwd}:\n{out.decode()}\n{err.decode()}")
    rss = usage.ru_maxrss if usage else 0
    return secs, rss, out.decode() + err.decode()


def peak_rss(cmd, cwd):
    """Seconds and peak RSS (KiB) of one run, from the kernel's accounting of that child."""
    t = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        os.chdir(cwd)
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.execv(cmd[0], cmd)
    _, status, usage = os.wait4(pid, 0)
    if status != 0:
        sys.exit(f"{cmd} failed in {cwd}")
    return time.perf_counter() - t, usage.ru_maxrss


def median(f, n=5):
    return statistics.median(f() for _ in range(n))


def conversions(ws):
    log = os.path.join(ws, "build/obj/steps.log")
    if not os.path.exists(log):
        return 0
    n = sum(1 for line in open(log) if json.loads(line)["outcome"] == "built")
    os.remove(log)
    return n


def sources(ws):
    reg = json.load(open(os.path.join(ws, "assets/.prometeu/index.json")))
    out = []
    for e in reg["assets"]:
        root = os.path.join(ws, "assets", e["root"])
        d = json.load(open(os.path.join(root, "asset.json")))
        out += [os.path.join(root, p) for role in d["inputs"].values() for p in role if not p.startswith("@")]
    return reg, out


def touch_all(files):
    now = time.time()
    for f in files:
        os.utime(f, (now, now))


def make(ws, n, variant="A"):
    subprocess.run([sys.executable, os.path.join(ROOT, "bench/make_workspace.py"), ws, str(n), "--variant", variant], check=True)


def ninja(ws, *args):
    # Pending writeback of whatever came before (a workspace just written, the minimal
    # graph's 60,000 files) would land in the middle of the timed run: flush it first.
    os.sync()
    return run([NINJA, *args], ws)[0]


def minimal_noop(tmp, edges):
    """A no-op ninja on a minimal graph with `edges` edges (one input, one output each)."""
    d = os.path.join(tmp, f"minimal{edges}")
    os.makedirs(d)
    lines = ["rule r\n  command = touch $out\n"]
    for i in range(edges):
        open(os.path.join(d, f"i{i}"), "w").close()
        lines.append(f"build o{i}: r i{i}\n")
    open(os.path.join(d, "build.ninja"), "w").write("".join(lines))
    ninja(d)
    return median(lambda: ninja(d))


def plain_ninja(ws, reg):
    """The same graph as a plain mtime build.ninja calling the same conversions, ungated."""
    lines = [f"packer = {PACKER}\nrule step\n  command = $packer step $kind --root=$root --out=$out_prefix\n  restat = 1\n"
             "rule pack\n  command = $packer step pack --obj-dir=plain/obj --out-dir=plain\n  restat = 1\n"]
    bins = []
    kinds = {"blob": "blob", "tile_bank": "tiles", "sound_bank": "sounds", "tilemap": "tilemap"}
    for e in reg["assets"]:
        root = f"assets/{e['root']}"
        d = json.load(open(os.path.join(ws, root, "asset.json")))
        srcs = " ".join(f"{root}/{p}" for role in d["inputs"].values() for p in role)
        i = e["asset_id"]
        lines.append(f"build plain/obj/{i}.bin plain/obj/{i}.json: step {srcs} {root}/asset.json\n"
                     f"  kind = {kinds[d['type']]}\n  root = {root}\n  out_prefix = plain/obj/{i}\n")
        bins.append(f"plain/obj/{i}.bin plain/obj/{i}.json")
    lines.append(f"build plain/assets.pa: pack {' '.join(bins)}\ndefault plain/assets.pa\n")
    open(os.path.join(ws, "plain.ninja"), "w").write("".join(lines))


def cmake_project(ws, reg, tmp):
    """The same graph as a CMake project of add_custom_command, configured with -G Ninja."""
    kinds = {"blob": "blob", "tile_bank": "tiles", "sound_bank": "sounds"}
    src = os.path.join(tmp, f"cmake-src{len(reg['assets'])}")
    os.makedirs(src)
    lines = ["cmake_minimum_required(VERSION 3.20)\nproject(assets NONE)\n"]
    outs = []
    for e in reg["assets"]:
        root = f"{ws}/assets/{e['root']}"
        d = json.load(open(os.path.join(root, "asset.json")))
        srcs = " ".join(f'"{root}/{p}"' for role in d["inputs"].values() for p in role)
        i = e["asset_id"]
        out = f"${{CMAKE_BINARY_DIR}}/obj/{i}.bin"
        lines.append(f'add_custom_command(OUTPUT {out} COMMAND {PACKER} step {kinds[d["type"]]} "--root={root}" '
                     f'"--out=${{CMAKE_BINARY_DIR}}/obj/{i}" DEPENDS {srcs} VERBATIM)\n')
        outs.append(out)
    lines.append(f"add_custom_target(assets ALL DEPENDS {' '.join(outs)})\n")
    open(os.path.join(src, "CMakeLists.txt"), "w").write("".join(lines))
    build = os.path.join(tmp, f"cmake-build{len(reg['assets'])}")
    secs, _, _ = run(["cmake", "-S", src, "-B", build, "-G", "Ninja", f"-DCMAKE_MAKE_PROGRAM={shutil.which(NINJA) or NINJA}"], tmp)
    return secs


def tree_bytes(d):
    return sum(os.path.getsize(os.path.join(p, f)) for p, _, fs in os.walk(d) for f in fs)


def artifact_bytes(ws, asset_id, obj="build/obj"):
    return sum(os.path.getsize(os.path.join(ws, obj, f"{asset_id}.{e}")) for e in ("bin", "json"))


def pack_rss(ws, blob, blob_id):
    """Peak RSS (KiB) of the pack after one blob edit, the step run as build.ninja runs it."""
    with open(blob, "ab") as f:
        f.write(b"rss")
    run([PACKER, "gen"], ws)
    run([NINJA, f"build/obj/{blob_id}.bin"], ws)
    cmd = run([NINJA, "-t", "commands", "build/assets.pa"], ws)[2].strip().splitlines()[-1]
    _, rss = peak_rss(["/bin/sh", "-c", cmd], ws)
    conversions(ws)
    return rss


def plain_rows(ws, reg, r, blob, sprite, data):
    """The plain mtime build of the same graph (and n2 on it, when N2 names a binary): full,
    no-op, touch of every source, one blob edit, one sprite edit."""
    plain_ninja(ws, reg)
    tools = [("plain", [NINJA, "-f", "plain.ninja"])]
    if os.environ.get("N2"):
        tools.append(("n2", [os.environ["N2"], "-f", "plain.ninja"]))
    _, files = sources(ws)
    for name, cmd in tools:
        go = lambda: (os.sync(), run(cmd, ws)[0])[1]
        if name == "plain":
            r["plain_full"] = go()
        else:
            go()
        r[f"{name}_noop"] = median(go)
        time.sleep(0.05)
        touch_all(files)
        r[f"{name}_touch_all"] = go()
        def edit_blob(i=[0]):
            i[0] += 1
            with open(blob, "ab") as f:
                f.write(b"plain%d" % i[0])
            return go()
        r[f"{name}_one_edit"] = median(edit_blob, 3)
        def edit_sprite(i=[0]):
            i[0] += 1
            shutil.copy(os.path.join(ws, "assets/sprites1000/s%04d.png" % (700 + i[0])), sprite)
            return go()
        r[f"{name}_sprite_edit"] = median(edit_sprite, 3)
        open(sprite, "wb").write(data)
        go()


def bench_size(n, tmp, full, mode="all"):
    ws = os.path.join(tmp, f"ws{n}")
    r = {"n": n}
    make(ws, n)
    reg, files = sources(ws)
    r["assets"] = len(reg["assets"])
    r["sources"] = len(files)
    r["source_bytes"] = sum(os.path.getsize(f) for f in files)
    r["gen_cold"], r["gen_cold_rss_kib"] = peak_rss([PACKER, "gen"], ws)
    _, _, out = run([FLOOR], ws, stdin="\n".join(files).encode())
    r["floor"] = median(lambda: run([FLOOR], ws, stdin="\n".join(files).encode())[0], 3)
    # Cold again, now with a warm page cache like the floor's, for the throughput ratio.
    shutil.rmtree(os.path.join(ws, "build"))
    os.remove(os.path.join(ws, "assets/.prometeu/cache/fingerprints.json"))
    secs, _, out = run([PACKER, "gen"], ws, env={"PACKER_TIMINGS": "1"})
    r["gen_cold_warm_cache"] = secs
    m = re.search(r"hash ([0-9.]+) s, (\d+) files, (\d+) bytes", out)
    r["gen_hash_phase"], r["gen_hashed_bytes"] = float(m.group(1)), int(m.group(3))
    time.sleep(2.1)  # past the racy-clean window, as in real use
    run([PACKER, "gen"], ws)
    r["gen_noop"] = median(lambda: run([PACKER, "gen"], ws)[0])
    ninja_file = open(os.path.join(ws, "build.ninja")).read()
    r["ninja_bytes"] = len(ninja_file)
    r["ninja_edges"] = sum(1 for line in ninja_file.splitlines() if line.startswith("build "))
    if not full:
        return r
    r["full_build"] = ninja(ws)
    r["full_build_conversions"] = conversions(ws)
    r["ninja_noop"] = median(lambda: ninja(ws))
    if mode != "e2e":
        r["minimal_noop"] = minimal_noop(tmp, r["ninja_edges"])
    def touched():
        time.sleep(0.05)
        touch_all(files)
        return ninja(ws)
    r["touch_all"] = median(touched, 3)
    r["touch_all_conversions"] = conversions(ws)
    blob = next(f for f in files if f.endswith("data.bin"))
    blob_id = next(e["asset_id"] for e in reg["assets"] if os.path.join(ws, "assets", e["root"]) == os.path.dirname(blob))
    cache_dir = os.path.join(ws, "assets/.prometeu/cache")
    growth = []
    def edit_blob(i=[0]):
        i[0] += 1
        with open(blob, "ab") as f:
            f.write(b"edit%d" % i[0])
        before = tree_bytes(cache_dir)
        t = ninja(ws)
        growth.append((tree_bytes(cache_dir) - before, artifact_bytes(ws, blob_id)))
        return t
    # Three edits, the median: the first after a full build also reads back the records the
    # build wrote within the racy-clean window before its pack.
    r["one_edit"] = median(edit_blob, 3)
    r["one_edit_conversions"] = conversions(ws) / 3
    r["cache_growth_per_edit"] = max(g for g, _ in growth)
    r["edited_artifact_bytes"] = min(a for _, a in growth)
    sprite = os.path.join(ws, "assets/sprites1000/s0500.png")
    data = open(sprite, "rb").read()
    big = reg["assets"][-1]["asset_id"]
    def edit_sprite(i=[0]):
        i[0] += 1
        shutil.copy(os.path.join(ws, "assets/sprites1000/s%04d.png" % (600 + i[0])), sprite)
        return ninja(ws)
    r["sprite_edit"] = median(edit_sprite, 3)
    r["sprite_edit_conversions"] = conversions(ws) / 3
    open(sprite, "wb").write(data)
    ninja(ws)
    conversions(ws)
    r["pack_edit_rss_kib"] = pack_rss(ws, blob, blob_id)
    if mode == "e2e":
        plain_rows(ws, reg, r, blob, sprite, data)
        return r
    # The bank's own step, run as Ninja runs it (its command line in build.ninja, with the key
    # file gen wrote): cold (a build directory and cache of its own, nothing built before),
    # then in the workspace after one sprite edit and the gen that re-gates it.
    step = [PACKER, "step", "tiles", f"--id={big}", "--root=assets/sprites1000"]
    cold = os.path.join(tmp, f"bank{n}")
    def bank_cold():
        shutil.rmtree(cold, ignore_errors=True)
        os.makedirs(os.path.join(cold, "keys"))
        shutil.copy(os.path.join(ws, f"build/keys/{big}.key"), os.path.join(cold, "keys"))
        return run([*step, f"--build-dir={cold}", f"--cache={cold}/cache"], ws)[0]
    r["bank_full"] = median(bank_cold, 3)
    def bank_one(i=[0]):
        i[0] += 1
        shutil.copy(os.path.join(ws, "assets/sprites1000/s%04d.png" % (501 + i[0])), sprite)
        run([PACKER, "gen"], ws)
        conversions(ws)
        t = run([*step, "--build-dir=build", "--cache=assets/.prometeu/cache"], ws)[0]
        log = os.path.join(ws, "build/obj/steps.log")
        r["bank_one_decodes"] = sum(1 for line in open(log) if '"input"' in line and '"built"' in line)
        return t
    r["bank_one"] = median(bank_one, 3)
    open(sprite, "wb").write(data)
    ninja(ws)
    conversions(ws)
    # A -> B -> A: a branch switch rewrites every file whose content differs.
    a_copy = os.path.join(tmp, f"a{n}")
    shutil.copytree(os.path.join(ws, "assets"), a_copy, ignore=shutil.ignore_patterns(".prometeu"))
    make(ws, n, "B")
    r["switch_b"] = ninja(ws)
    r["switch_b_conversions"] = conversions(ws)
    make(ws, n, "A")
    r["switch_back_a"] = ninja(ws)
    r["switch_back_a_conversions"] = conversions(ws)
    clean = os.path.join(tmp, f"clean{n}")
    shutil.copytree(os.path.join(ws, "assets"), os.path.join(clean, "assets"), ignore=shutil.ignore_patterns("cache"))
    run([PACKER, "gen", "--no-cache"], clean)
    r["clean_build"] = ninja(clean)
    plain_rows(ws, reg, r, blob, sprite, data)
    # A gated step with nothing to do, vs /bin/true.
    step = [PACKER, "step", "blob", "--id=1", f"--root=assets/{reg['assets'][0]['root']}"] if reg["assets"][0]["root"].startswith("g") else None
    first_blob = next(e for e in reg["assets"] if "/blob" in e["root"])
    step = [PACKER, "step", "blob", f"--id={first_blob['asset_id']}", f"--root=assets/{first_blob['root']}"]
    # Spawned the way Ninja spawns (examples/spawn_time.rs), alternating, so that neither
    # Python's process handling nor a noisy neighbour favours one side.
    spawn = lambda cmd: float(run([SPAWN, "300", *cmd], ws)[2].split()[0])
    pairs = [(spawn(step), spawn(["/bin/true"])) for _ in range(3)]
    r["step_noop"] = statistics.median(p[0] for p in pairs)
    r["true"] = statistics.median(p[1] for p in pairs)
    if n <= 10000 and shutil.which("cmake"):
        r["cmake_configure"] = cmake_project(ws, reg, tmp)
    shutil.rmtree(a_copy, ignore_errors=True)
    return r


def machine():
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    mem = next((l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal")), "0")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    ninja_v = subprocess.run([NINJA, "--version"], capture_output=True, text=True).stdout.strip()
    return (f"{os.cpu_count()} cores ({cpu}), {int(mem) // 1024 // 1024} GiB, Linux {platform.release()}, "
            f"ninja {ninja_v}, commit {commit}")


def fmt(s):
    return f"{s * 1000:.1f} ms" if s < 10 else f"{s:.2f} s"


def report(results, big, measured=None):
    measured = measured or f"{machine()}, {time.strftime('%Y-%m-%d')}"
    rows = []
    def row(name, value, target, ok):
        rows.append(f"| {name} | {value} | {target} | {'met' if ok else '**not met**'} |")
    # Issue 14's goals: hash-gating against the plain graph of the same steps, same run.
    for r in results:
        if "plain_one_edit" not in r:
            continue
        n = r["n"]
        ratio = lambda a, b: f"{fmt(r[a])} / {fmt(r[b])} = {r[a] / r[b]:.2f}×"
        row(f"one blob edited: packer / plain ninja (N={n})", ratio("one_edit", "plain_one_edit"), "≤ 1.1×", r["one_edit"] <= 1.1 * r["plain_one_edit"])
        row(f"one sprite edited: packer / plain ninja (N={n})", ratio("sprite_edit", "plain_sprite_edit"), "≤ 1.1×", r["sprite_edit"] <= 1.1 * r["plain_sprite_edit"])
        row(f"one blob edited / packer's no-op (N={n})", ratio("one_edit", "ninja_noop"), "≤ 1.5×", r["one_edit"] <= 1.5 * r["ninja_noop"])
        row(f"one sprite edited / packer's no-op (N={n})", ratio("sprite_edit", "ninja_noop"), "≤ 1.5×", r["sprite_edit"] <= 1.5 * r["ninja_noop"])
        row(f"no-op: packer / plain ninja (N={n})", ratio("ninja_noop", "plain_noop"), "≤ 1.2×", r["ninja_noop"] <= 1.2 * r["plain_noop"])
        row(f"full build: packer (gen + ninja) / plain ninja (N={n})", ratio("full_build", "plain_full"), "≤ 1.05×", r["full_build"] <= 1.05 * r["plain_full"])
        if "n2_one_edit" in r:
            rows.append(f"| one blob edited / one sprite edited / no-op: n2 on the plain graph (N={n}) | {fmt(r['n2_one_edit'])} / {fmt(r['n2_sprite_edit'])} / {fmt(r['n2_noop'])} | (for comparison) | – |")
        row(f"cache growth per blob edit / the edited artifact's bytes (N={n})", f"{r['cache_growth_per_edit']} / {r['edited_artifact_bytes']} B = {r['cache_growth_per_edit'] / r['edited_artifact_bytes']:.2f}×",
            "≤ 2×", r["cache_growth_per_edit"] <= 2 * r["edited_artifact_bytes"])
        row(f"peak memory of the pack after one edit (N={n})", f"{r['pack_edit_rss_kib'] / 1024:.0f} MiB = {r['pack_edit_rss_kib'] / r['assets']:.1f} KiB/asset",
            "≤ 4 KiB/asset (at N=100000)", r["pack_edit_rss_kib"] <= 4 * r["assets"])
    for r in results + ([big] if big else []):
        if r["n"] >= 100000:
            row(f"peak memory of cold gen (N={r['n']})", f"{r['gen_cold_rss_kib'] / 1024:.0f} MiB = {r['gen_cold_rss_kib'] / r['assets']:.1f} KiB/asset", "≤ 4 KiB/asset", r["gen_cold_rss_kib"] <= 4 * r["assets"])
    for r in results:
        if "clean_build" not in r:
            continue
        n = r["n"]
        row(f"touch of every source / full build (N={n})", f"{fmt(r['touch_all'])} / {fmt(r['full_build'])} = {r['touch_all'] / r['full_build']:.1%}, "
            f"{r['touch_all_conversions']} conversions", "≤ 5%, 0 conversions", r["touch_all"] <= 0.05 * r["full_build"] and r["touch_all_conversions"] == 0)
        row(f"no-op ninja / minimal graph, same edges (N={n})", f"{fmt(r['ninja_noop'])} / {fmt(r['minimal_noop'])} = {r['ninja_noop'] / r['minimal_noop']:.2f}×",
            "≤ 1.1×", r["ninja_noop"] <= 1.1 * r["minimal_noop"])
        row(f"build.ninja bytes per edge (N={n})", f"{r['ninja_bytes']} / {r['ninja_edges']} = {r['ninja_bytes'] / r['ninja_edges']:.0f} "
            f"({r['ninja_bytes'] / r['assets']:.0f} per asset)", "≤ 100", r["ninja_bytes"] / r["ninja_edges"] <= 100)
        if "bank_one" in r:
            row(f"one sprite of 1,000 edited: the bank's step / its cold build (N={n})", f"{fmt(r['bank_one'])} / {fmt(r['bank_full'])} = {r['bank_one'] / r['bank_full']:.1%}, "
                f"{r['bank_one_decodes']} PNG decoded", "≤ 5%", r["bank_one"] <= 0.05 * r["bank_full"])
        row(f"one sprite of 1,000 edited: the whole `ninja` run / the bank's cold build (N={n})", f"{fmt(r['sprite_edit'])} / {fmt(r['bank_full'])} = {r['sprite_edit'] / r['bank_full']:.1%}, "
            f"{r['sprite_edit_conversions']} conversions", "≤ 5%", r["sprite_edit"] <= 0.05 * r["bank_full"])
        row(f"A → B → A: clean build / third build (N={n})", f"{fmt(r['clean_build'])} / {fmt(r['switch_back_a'])} = {r['clean_build'] / r['switch_back_a']:.1f}×, "
            f"{r['switch_back_a_conversions']} conversions", "≥ 10×", r["clean_build"] >= 10 * r["switch_back_a"])
        row(f"gated step with nothing to do − /bin/true (N={n})", f"{fmt(r['step_noop'])} − {fmt(r['true'])} = {(r['step_noop'] - r['true']) * 1000:.2f} ms",
            "≤ 1 ms", r["step_noop"] - r["true"] <= 0.001)
        floor_tp = r["source_bytes"] / r["floor"]
        gen_tp = r["gen_hashed_bytes"] / r["gen_hash_phase"]
        row(f"cold gen hashing throughput / hashing floor (N={n})", f"{gen_tp / 1e6:.0f} / {floor_tp / 1e6:.0f} MB/s = {gen_tp / floor_tp:.0%} "
            f"(whole cold gen: {r['source_bytes'] / r['gen_cold_warm_cache'] / 1e6:.0f} MB/s)", "≥ 80%", gen_tp >= 0.8 * floor_tp)
        if "cmake_configure" in r:
            # The issue sets this target at 10,000 assets; other sizes are shown for the trend.
            ratio = (f"{fmt(r['gen_noop'])} / {fmt(r['cmake_configure'])} = 1/{r['cmake_configure'] / r['gen_noop']:.0f}")
            if n == 10000:
                row(f"gen with nothing changed / CMake configure+generate (N={n})", ratio, "≤ 1/20", r["gen_noop"] * 20 <= r["cmake_configure"])
            else:
                rows.append(f"| gen with nothing changed / CMake configure+generate (N={n}) | {ratio} | (target set at N=10000) | – |")
    if big:
        row(f"gen with nothing changed (N={big['n']})", fmt(big["gen_noop"]), "≤ 0.5 s", big["gen_noop"] <= 0.5)
    mem = ", ".join(f"N={r['n']}: {r['gen_cold_rss_kib'] / 1024:.0f} MiB ({r['gen_cold_rss_kib'] / r['assets']:.1f} KiB/asset)" for r in results + ([big] if big else []))
    detail = ["| N | assets | sources | gen cold | gen no-op | full build | no-op ninja | touch all | one edit | sprite edit | A→B | B→A | plain full | plain no-op | plain touch all | plain one edit | plain sprite edit | n2 no-op | n2 one edit | n2 sprite edit | CMake configure |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results + ([big] if big else []):
        g = lambda k: fmt(r[k]) if k in r else "–"
        cols = ["gen_cold", "gen_noop", "full_build", "ninja_noop", "touch_all", "one_edit", "sprite_edit", "switch_b", "switch_back_a", "plain_full", "plain_noop",
                "plain_touch_all", "plain_one_edit", "plain_sprite_edit", "n2_noop", "n2_one_edit", "n2_sprite_edit", "cmake_configure"]
        detail.append(f"| {r['n']} | {r['assets']} | {r['sources']} | " + " | ".join(g(c) for c in cols) + " |")
    text = f"""# Benchmark results

Measured by `python3 bench/run.py` on {measured}.
Medians of 5 runs where repeated; page cache warm. Workspaces from `bench/make_workspace.py`
(80% blobs, 15% tile banks, 5% sound banks, plus a 1,000-sprite bank).

## Targets

| target | measured | goal | |
|---|---|---|---|
{chr(10).join(rows)}

Peak memory of cold gen: {mem}.

## All timings

{chr(10).join(detail)}

"plain" is the same graph as an mtime-driven build.ninja calling the same conversions
without key-file gating; "CMake configure" is `cmake -G Ninja` on the same graph as
`add_custom_command`s. Raw numbers: `bench/results.json`.
"""
    notes = os.path.join(ROOT, "bench/NOTES.md")
    if os.path.exists(notes):
        text += "\n" + open(notes).read()
    open(os.path.join(ROOT, "bench/RESULTS.md"), "w").write(text)
    json.dump({"measured": measured, "results": results + ([big] if big else [])}, open(os.path.join(ROOT, "bench/results.json"), "w"), indent=1)
    print(text)


def compare(before, sizes):
    """Every row of bench_size for `before` and for this checkout's packer, at each size in
    one run, in the order before, after, before again: the two runs of the same binary show
    how much the machine itself drifts. Writes bench/COMPARE.md and bench/compare.json."""
    global PACKER
    after = PACKER
    by_n = {}
    for n in sizes:
        runs = {}
        for label, binary in [("before", before), ("after", after), ("before2", before)]:
            PACKER = binary
            with tempfile.TemporaryDirectory(prefix=f"packer-compare-{label}") as tmp:
                runs[label] = bench_size(n, tmp, True)
            print(json.dumps({label: runs[label]}), file=sys.stderr)
        PACKER = after
        by_n[n] = runs
    json.dump({"before": before, "after": after, "machine": machine(), "runs": by_n},
              open(os.path.join(ROOT, "bench/compare.json"), "w"), indent=1)
    render_compare(before, after, machine(), by_n)


def render_compare(before, after, measured, by_n):
    """bench/COMPARE.md: per row, both runs of `before`, the run of `after`, after over the
    faster before, and whether after is within 5 % of the before runs' range."""
    lines = [f"# Before/after, measured by `bench/run.py --before` on {measured}", "",
             f"before: `{before}`; after: `{after}`. Seconds unless the row says otherwise. Run order: before, after,",
             "before again. *ratio* is after over the better before run; *within* says whether after is inside",
             "the range of the two before runs widened by 5 %, i.e. no slower than the same binary measured twice.", ""]
    for n, runs in by_n.items():
        lines += [f"## N = {n}", "", "| row | before | after | before again | ratio | within |", "|---|---|---|---|---|---|"]
        for k, v in runs["after"].items():
            b1, b2 = runs["before"].get(k), runs["before2"].get(k)
            if k == "n" or not all(isinstance(x, (int, float)) for x in (v, b1, b2)):
                continue
            lo, hi = min(b1, b2), max(b1, b2)
            ratio = f"{v / lo:.3f}" if lo else "-"
            within = "yes" if v <= hi * 1.05 + 1e-9 else "**no**"
            lines.append(f"| {k} | {b1:.4g} | {v:.4g} | {b2:.4g} | {ratio} | {within} |")
        lines.append("")
    text = "\n".join(lines) + "\n"
    open(os.path.join(ROOT, "bench/COMPARE.md"), "w").write(text)
    print(text)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--gen-only", default="100000", help="sizes measured for gen and memory only ('' for none)")
    ap.add_argument("--e2e", default="", help="sizes measured end to end only (full, no-op, touch, edits, plain; e.g. 100000)")
    ap.add_argument("--report-only", action="store_true", help="re-render bench/RESULTS.md from bench/results.json")
    ap.add_argument("--before", help="a packer binary to measure beside this one (writes bench/COMPARE.md)")
    a = ap.parse_args()
    if a.report_only:
        saved = json.load(open(os.path.join(ROOT, "bench/results.json")))
        if isinstance(saved, list):  # the first layout: no record of where it was measured
            line = next(l for l in open(os.path.join(ROOT, "bench/RESULTS.md")) if l.startswith("Measured by"))
            saved = {"measured": line.split(" on ", 1)[1].strip().rstrip("."), "results": saved}
        full = [r for r in saved["results"] if "full_build" in r]
        rest = [r for r in saved["results"] if "full_build" not in r]
        report(full, rest[-1] if rest else None, saved["measured"])
        return
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "packer", "--example", "hash_floor", "--example", "spawn_time"], cwd=ROOT, check=True)
    if a.before:
        compare(os.path.abspath(a.before), [int(x) for x in a.sizes.split(",") if x])
        return
    results = []
    with tempfile.TemporaryDirectory(prefix="packer-bench") as tmp:
        for n in [int(x) for x in a.sizes.split(",") if x]:
            results.append(bench_size(n, tmp, True))
            print(json.dumps(results[-1]), file=sys.stderr)
        for n in [int(x) for x in a.e2e.split(",") if x]:
            results.append(bench_size(n, tmp, True, "e2e"))
            print(json.dumps(results[-1]), file=sys.stderr)
            shutil.rmtree(os.path.join(tmp, f"ws{n}"), ignore_errors=True)
        big = None
        for n in [int(x) for x in a.gen_only.split(",") if x]:
            big = bench_size(n, tmp, False)
            print(json.dumps(big), file=sys.stderr)
    report(results, big)


if __name__ == "__main__":
    main()
