#!/usr/bin/env python3
"""The calibration row of a results suite: backprop in PyTorch (CPU) with a suite's recipe.

Builds the model and reads the data with ../shared/peers/torch_reference.py (the same models as
locallearn), and adds what that script leaves out and the CIFAR-10 suites use: random crop with zero
padding and horizontal flip, per-channel standardisation with the training split's statistics, a
held-out validation fraction, SGD (Nesterov, weight decay) or Adam, and a cosine schedule with linear
warm-up. Prints one JSON line per epoch and a summary line with the test accuracy at the best
validation epoch, the best and the final test accuracy.

  CUDA_VISIBLE_DEVICES= /tmp/torch-venv/bin/python Scripts/torch_recipe.py --data ../shared/datasets/cifar10-jpeg \\
      --model smallconv --epochs 20 --optimizer adam --lr 1e-3 --crop-padding 4 --flip --standardize --val-split 0.1
"""
import argparse, json, math, os, sys, time
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "shared", "peers"))
import torch_reference as reference  # noqa: E402


def augment(x, padding, flip, generator):
    """Random crop of the original size from the zero-padded batch, then a left-right flip with probability ½."""
    n, _, h, w = x.shape
    if padding:
        padded = F.pad(x, (padding, padding, padding, padding))
        dy = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
        dx = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
        x = torch.stack([padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(n)])
    if flip:
        mirrored = torch.rand(n, generator=generator) < 0.5
        x = torch.where(mirrored[:, None, None, None], x.flip(3), x)
    return x


class ViT(torch.nn.Module):
    """locallearn's `vit:patchP-dimD-depthN-headsH-mlpM[:cls|:mean]`: patch embedding (a stride-P convolution),
    class token and learned positions (N(0, 0.02²)), pre-norm encoder blocks with a fused QKV projection and
    tanh-GELU, the class token (or the mean token), LayerNorm, a linear head."""

    def __init__(self, spec, classes, in_ch, size):
        super().__init__()
        parts = spec.split(":")
        fields = {"patch": 4, "dim": 128, "depth": 6, "heads": 4, "mlp": 2}
        for token in filter(None, parts[1].split("-")):
            name = next(k for k in fields if token.startswith(k))
            fields[name] = int(token[len(name):])
        self.mean = "mean" in parts[2:]
        d, p = fields["dim"], fields["patch"]
        self.embed = torch.nn.Conv2d(in_ch, d, p, stride=p)
        tokens = (size // p) ** 2 + (0 if self.mean else 1)
        self.cls = None if self.mean else torch.nn.Parameter(0.02 * torch.randn(1, 1, d))
        self.position = torch.nn.Parameter(0.02 * torch.randn(1, tokens, d))
        layer = torch.nn.TransformerEncoderLayer(d, fields["heads"], fields["mlp"] * d, dropout=0.0, batch_first=True, norm_first=True,
                                                 activation=lambda x: F.gelu(x, approximate="tanh"))
        self.blocks = torch.nn.TransformerEncoder(layer, fields["depth"], enable_nested_tensor=False)
        self.norm = torch.nn.LayerNorm(d)
        self.head = torch.nn.Linear(d, classes)

    def forward(self, x):
        x = self.embed(x).flatten(2).transpose(1, 2)
        if self.cls is not None:
            x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1)
        x = self.blocks(x + self.position)
        return self.head(self.norm(x.mean(1) if self.mean else x[:, 0]))


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        return sum((model(x[i:i + 1000]).argmax(1) == y[i:i + 1000]).sum().item() for i in range(0, x.shape[0], 1000)) / x.shape[0]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--model", default="smallconv")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--optimizer", default="adam", choices=["sgd", "adam", "adamw"])
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--nesterov", action="store_true")
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--warmup-epochs", type=int, default=0)
    p.add_argument("--crop-padding", type=int, default=0)
    p.add_argument("--flip", action="store_true")
    p.add_argument("--standardize", action="store_true")
    p.add_argument("--val-split", type=float, default=0.0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--initializer", default="pytorch", choices=["pytorch", "he-normal-conv"],
                   help="he-normal-conv: every convolution N(0, 2/(k²·out)) (kaiming_normal_, fan_out), as locallearn's option")
    p.add_argument("--train-limit", type=int, default=0, help="train on the first N training images (timing runs)")
    p.add_argument("--checkpoint", default="", help="save the run here after every epoch and resume from it if it exists "
                   "(append stdout to the same log when resuming)")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    generator = torch.Generator().manual_seed(a.seed)
    (xtr, ytr), (xte, yte) = reference.load(a.data)
    xva = yva = None
    if a.val_split > 0:
        order = torch.randperm(xtr.shape[0], generator=generator)
        held = round(xtr.shape[0] * a.val_split)
        xva, yva = xtr[order[:held]], ytr[order[:held]]
        xtr, ytr = xtr[order[held:]], ytr[order[held:]]
    if a.standardize:
        mean = xtr.mean(dim=(0, 2, 3), keepdim=True)
        std = xtr.std(dim=(0, 2, 3), keepdim=True)
        xtr, xte = (xtr - mean) / std, (xte - mean) / std
        xva = (xva - mean) / std if xva is not None else None
    if a.train_limit:
        xtr, ytr = xtr[:a.train_limit], ytr[:a.train_limit]
    if a.model.startswith("vit:"):
        model = ViT(a.model, 10, xtr.shape[1], xtr.shape[2])
    else:
        model = reference.build(a.model, "bp", xtr.shape[1], xtr.shape[2])
    if a.initializer == "he-normal-conv":
        for module in model.modules():
            if isinstance(module, torch.nn.Conv2d):
                torch.nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
    if a.optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=a.momentum, nesterov=a.nesterov, weight_decay=a.weight_decay)
    elif a.optimizer == "adamw":
        opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=a.weight_decay)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=a.lr, weight_decay=a.weight_decay)
    n = xtr.shape[0]
    per_epoch = (n + a.batch_size - 1) // a.batch_size
    total, warmup = a.epochs * per_epoch, a.warmup_epochs * per_epoch
    # Linear warm-up, then half a cosine to 0 over the whole run (locallearn's cosine schedule).
    schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: (s + 1) / warmup if s < warmup else 0.5 * (1 + math.cos(math.pi * s / total)))
    epochs, best_val, first = [], None, 0
    if a.checkpoint and os.path.exists(a.checkpoint):
        state = torch.load(a.checkpoint, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        epochs, best_val, first = state["epochs"], state["best_val"], len(state["epochs"])
        print(f"resuming {a.checkpoint} after epoch {first}", file=sys.stderr)
    for epoch in range(first, a.epochs):
        model.train()
        perm = torch.randperm(n, generator=generator)
        start = time.perf_counter()
        correct = 0
        for i in range(0, n, a.batch_size):
            idx = perm[i:i + a.batch_size]
            logits = model(augment(xtr[idx], a.crop_padding, a.flip, generator))
            loss = F.cross_entropy(logits, ytr[idx])
            correct += (logits.argmax(1) == ytr[idx]).sum().item()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            schedule.step()
        seconds = time.perf_counter() - start
        record = {"epoch": epoch + 1, "train_seconds": round(seconds, 2), "samples_per_s": round(n / seconds, 1),
                  "train_acc": correct / n, "test_acc": accuracy(model, xte, yte)}
        if xva is not None:
            record["val_acc"] = accuracy(model, xva, yva)
            if best_val is None or record["val_acc"] > best_val["val_acc"]:
                best_val = record
        epochs.append(record)
        print(json.dumps(record), flush=True)
        if a.checkpoint:
            os.makedirs(os.path.dirname(os.path.abspath(a.checkpoint)), exist_ok=True)
            torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "schedule": schedule.state_dict(),
                        "generator": generator.get_state(), "torch_rng": torch.get_rng_state(), "epochs": epochs,
                        "best_val": best_val}, a.checkpoint + ".tmp")
            os.replace(a.checkpoint + ".tmp", a.checkpoint)
    print(json.dumps({"framework": f"torch {torch.__version__}", "model": a.model, "threads": a.threads, "recipe": vars(a),
                      "final_test_acc": epochs[-1]["test_acc"], "best_test_acc": max(e["test_acc"] for e in epochs),
                      "test_acc_at_best_val": best_val["test_acc"] if best_val else None,
                      "best_val_epoch": best_val["epoch"] if best_val else None, "epochs": epochs}))


if __name__ == "__main__":
    main()
