"""PyTorch eager, float32, a hand-written loop as its tutorials write one. Threads: torch's default.

Multi-hot inputs are given as the dense float32 matrix, as the Keras textbook's models read them (`nn.Linear` on
dense rows). Softmax/sigmoid outputs use the fused logits losses (CrossEntropyLoss, BCEWithLogitsLoss).
The loss and metric are accumulated as tensors each step, so no step waits on a `.item()`.
"""

from __future__ import annotations

import time


def available() -> str | None:
    try:
        import torch
    except ImportError:
        return None
    return torch.__version__


def _optimizer(torch, w, params):
    name, lr = w.optimizer
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, eps=1e-7)  # Keras's epsilon
    return torch.optim.RMSprop(params, lr=lr, alpha=0.9, eps=1e-7)  # Keras's rho and epsilon


def _mlp(nn, w):
    sizes = (w.input_width, *w.hidden)
    layers = []
    for a, b in zip(sizes, sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    layers.append(nn.Linear(sizes[-1], w.outputs))
    return nn.Sequential(*layers)


def _cnn(nn, w):
    layers, channels = [], w.image[-1]
    for filters in w.hidden:
        layers += [nn.Conv2d(channels, filters, 3), nn.ReLU(), nn.MaxPool2d(2)]
        channels = filters
    size = w.image[0]
    for _ in w.hidden:
        size = (size - 2) // 2
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(channels * size * size, w.outputs))


def _wide_deep(torch, nn):
    class WideDeep(nn.Module):
        def __init__(self):
            super().__init__()
            self.hidden1, self.hidden2 = nn.Linear(6, 30), nn.Linear(30, 30)
            self.main, self.aux = nn.Linear(35, 1), nn.Linear(30, 1)

        def forward(self, wide, deep):
            h = torch.relu(self.hidden2(torch.relu(self.hidden1(deep))))
            return self.main(torch.cat([wide, h], dim=1)), self.aux(h)

    return WideDeep()


def train(w, data, epochs: int) -> dict:
    import torch
    from torch import nn

    torch.manual_seed(0)
    wide_deep = w.task == "wide_deep"
    model = _wide_deep(torch, nn) if wide_deep else _cnn(nn, w) if w.image else _mlp(nn, w)
    opt = _optimizer(torch, w, model.parameters())

    def tensors(split):
        x, y = data[split]["x"], data[split]["y"]
        if w.multi_hot:
            xs = [torch.from_numpy(x["dense"])]
        elif wide_deep:
            xs = [torch.from_numpy(x["wide"]), torch.from_numpy(x["deep"])]
        elif w.image:  # PyTorch's convolutions read (batch, channels, height, width)
            xs = [torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()]
        else:
            xs = [torch.from_numpy(x)]
        return xs, torch.from_numpy(y)

    xs, y = tensors("train")
    vxs, vy = tensors("val")
    mse = nn.MSELoss()
    if w.task == "sparse_cce":
        loss_fn = nn.CrossEntropyLoss()
    elif w.task == "cce":
        loss_fn = nn.CrossEntropyLoss()  # accepts one-hot (probability) targets
    elif w.task == "bce":
        loss_fn = nn.BCEWithLogitsLoss()
    else:
        loss_fn = mse

    def step_loss(outs, yb):
        if wide_deep:
            return 0.9 * mse(outs[0], yb) + 0.1 * mse(outs[1], yb)
        return loss_fn(outs, yb)

    def metric(outs, yb):
        if wide_deep:
            return (outs[0] - yb).abs().sum()
        if w.task == "sparse_cce":
            return (outs.argmax(1) == yb).sum()
        if w.task == "cce":
            return (outs.argmax(1) == yb.argmax(1)).sum()
        if w.task == "bce":
            return ((outs > 0).float() == yb).sum()
        return (outs - yb).abs().sum()

    n, bs = len(y), w.batch_size
    seconds, final = [], {}
    for _ in range(epochs):
        t0 = time.perf_counter()
        model.train()
        perm = torch.randperm(n)
        total, hits = torch.zeros(()), torch.zeros(())
        for lo in range(0, n, bs):
            idx = perm[lo:lo + bs]
            xb = [x[idx] for x in xs]
            yb = y[idx]
            outs = model(*xb)
            loss = step_loss(outs, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():
                total += loss.detach() * len(idx)
                hits += metric(outs, yb)
        model.eval()
        vtotal, vhits = torch.zeros(()), torch.zeros(())
        with torch.no_grad():
            for lo in range(0, len(vy), bs):
                outs = model(*[x[lo:lo + bs] for x in vxs])
                yb = vy[lo:lo + bs]
                vtotal += step_loss(outs, yb) * len(yb)
                vhits += metric(outs, yb)
        final = {"loss": float(total) / n, "metric": float(hits) / n,
                 "val_loss": float(vtotal) / len(vy), "val_metric": float(vhits) / len(vy)}
        seconds.append(time.perf_counter() - t0)
    return {"epoch_seconds": seconds, "final": final}
