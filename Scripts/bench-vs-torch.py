#!/usr/bin/env python3
"""locallearn against PyTorch-CPU, interleaved in one sitting (machines here are noisy: only ratios
measured side by side mean anything). Each workload trains one epoch with BP + Adam (batch 128, the
same threads) in both, alternating locallearn and torch, REPS times; it prints samples/s of each
epoch (training loop only, evaluation excluded, as both tools report it), the medians and their ratio.

Usage (from the repository root, after `swift build -c release`):
    python3 Scripts/bench-vs-torch.py [--reps 3] [--threads 2] [--only resnet20,smallconv,mlp,resnet20-dgl]
PyTorch is optional: set TORCH_PYTHON (default /tmp/torch-venv/bin/python, see ../shared/peers/README.md);
without it only locallearn's figures are printed.
"""
import argparse, json, os, platform, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared")
LOCALLEARN = os.path.join(ROOT, ".build", "release", "locallearn")
TORCH_PYTHON = os.environ.get("TORCH_PYTHON", "/tmp/torch-venv/bin/python")
TORCH_SCRIPT = os.path.join(SHARED, "peers", "torch_reference.py")

# name: (model, locallearn dataset, data folder, train limit, rule, torch too)
WORKLOADS = {
    "resnet20": ("resnet20", "cifar10", "cifar10-jpeg", 5000, "bp", True),
    "smallconv": ("smallconv", "fashion-mnist", "fashion-mnist", 12800, "bp", True),
    "mlp": ("mlp:784-256x5-10:tanh", "mnist", "mnist", 60000, "bp", True),
    "resnet20-dgl": ("resnet20", "cifar10", "cifar10-jpeg", 5000, "dgl", False),
    # PyTorch's side: nn.TransformerEncoderLayer blocks of the same shape (Scripts/torch_recipe.py builds it).
    "vit-cifar": ("vit:patch4-dim128-depth6-heads4-mlp2", "cifar10", "cifar10-jpeg", 2560, "bp", True),
    "vit-fashion": ("vit:patch7-dim64-depth4-heads4-mlp2", "fashion-mnist", "fashion-mnist", 12800, "bp", True),
}
RECIPE_SCRIPT = os.path.join(ROOT, "Scripts", "torch_recipe.py")


def run_locallearn(model, dataset, data, limit, rule, threads):
    with tempfile.TemporaryDirectory() as folder:
        log = os.path.join(folder, "run.jsonl")
        command = [LOCALLEARN, "train", "--rule", rule, "--model", model, "--dataset", dataset, "--data-dir", data,
                   "--train-limit", str(limit), "--epochs", "1", "--optimizer", "adam", "--lr", "1e-3",
                   "--threads", str(threads), "--log", log]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        with open(log) as f:
            epochs = [r for r in map(json.loads, f) if r.get("type") == "epoch"]
        return epochs[-1]["samples_per_second"]


def run_torch(model, data, limit, threads):
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="")
    script, rule = (RECIPE_SCRIPT, []) if model.startswith("vit:") else (TORCH_SCRIPT, ["--rule", "bp"])
    command = [TORCH_PYTHON, script, "--data", data, "--model", model, *rule, "--optimizer", "adam",
               "--lr", "1e-3", "--threads", str(threads), "--epochs", "1", "--train-limit", str(limit)]
    out = subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])["epochs"][-1]["samples_per_s"]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--only", default=",".join(WORKLOADS))
    a = p.parse_args()
    if not os.path.exists(LOCALLEARN):
        sys.exit(f"{LOCALLEARN} not found: run `swift build -c release` first")
    torch = os.path.exists(TORCH_PYTHON) and subprocess.run([TORCH_PYTHON, "-c", "import torch"],
                                                              capture_output=True).returncode == 0
    if not torch:
        print(f"PyTorch not found at {TORCH_PYTHON} (set TORCH_PYTHON): locallearn's figures only")
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
    print(f"{time.strftime('%Y-%m-%d %H:%M')} · {cpu} · {os.cpu_count()} vCPUs · {a.threads} threads · batch 128 · "
          f"Adam · 1 epoch each, interleaved, {a.reps} reps")
    rows = []
    for name in a.only.split(","):
        model, dataset, folder, limit, rule, compare = WORKLOADS[name]
        data = os.path.join(SHARED, "datasets", folder)
        ours, theirs = [], []
        for rep in range(a.reps):
            ours.append(run_locallearn(model, dataset, data, limit, rule, a.threads))
            if torch and compare:
                theirs.append(run_torch(model, data, limit, a.threads))
            print(f"  {name} rep {rep + 1}: locallearn {ours[-1]:.0f}" + (f", torch {theirs[-1]:.0f}" if theirs else "")
                  + " samples/s", flush=True)
        mine = statistics.median(ours)
        ratio = f"{mine / statistics.median(theirs):.2f}×" if theirs else "–"
        torch_cell = f"{statistics.median(theirs):.0f} ({' / '.join(f'{x:.0f}' for x in theirs)})" if theirs else "–"
        rows.append(f"| {name} ({rule}, {dataset}, first {limit}) | {mine:.0f} ({' / '.join(f'{x:.0f}' for x in ours)}) "
                    f"| {torch_cell} | {ratio} |")
    print("\n| workload | locallearn samples/s, median (all) | PyTorch samples/s, median (all) | ratio |")
    print("|---|---:|---:|---:|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
