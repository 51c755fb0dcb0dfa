#!/usr/bin/env python3
"""PyTorch peer of astrolab-anomaly's VAE training step (issue 17 benchmark).

The same network as `astrolab_anomaly::model::Vae` with `VaeConfig::new(len)`:
input channels (flux, observed mask); Conv1d 2->16->32->64, kernel 5,
stride 2, padding 2, each with a leaky ReLU (slope 0.01); flatten; Linear to
128 (leaky ReLU); two Linear heads to a 16-D mean and log-variance (clamped
to +-15); decoder Linear 16->64->256->len with leaky ReLUs between layers.
Loss per spectrum 0.5 * sum ivar (f - r)^2 + beta * KL, mean over the batch,
z = mu + exp(logvar / 2) * eps. Adam with lr 1e-3, betas (0.9, 0.999) and
eps 1e-5 (burn's default epsilon).

Times one step (forward, backward, Adam update) like
`cargo run --release -p astrolab-anomaly --example train_step -- BATCH LEN STEPS`:
3 warm-up steps, then STEPS timed ones; prints the median and mean.

  python3 bench/peer_vae_step.py [BATCH] [LEN] [STEPS] [THREADS]

THREADS (default 1) is passed to torch.set_num_threads: 1 matches the Rust
CPU backend, which is single-threaded by design (bit-reproducible training).
"""
import statistics
import sys
import time

import torch
from torch import nn
import torch.nn.functional as F

SLOPE = 0.01


class Vae(nn.Module):
    def __init__(self, length, latent=16, channels=(16, 32, 64), k=5, enc_hidden=128, dec_hidden=(64, 256)):
        super().__init__()
        convs, c_in, out_len = [], 2, length
        for c in channels:
            convs.append(nn.Conv1d(c_in, c, k, stride=2, padding=k // 2))
            c_in = c
            out_len = (out_len + 2 * (k // 2) - k) // 2 + 1
        self.convs = nn.ModuleList(convs)
        self.enc_fc = nn.Linear(c_in * out_len, enc_hidden)
        self.mu = nn.Linear(enc_hidden, latent)
        self.logvar = nn.Linear(enc_hidden, latent)
        dims = [latent, *dec_hidden, length]
        self.dec = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))

    def encode(self, flux, mask):
        x = torch.stack([flux, mask], 1)
        for conv in self.convs:
            x = F.leaky_relu(conv(x), SLOPE)
        h = F.leaky_relu(self.enc_fc(x.flatten(1)), SLOPE)
        return self.mu(h), self.logvar(h).clamp(-15.0, 15.0)

    def decode(self, z):
        for i, layer in enumerate(self.dec):
            z = layer(z)
            if i < len(self.dec) - 1:
                z = F.leaky_relu(z, SLOPE)
        return z

    def loss(self, flux, ivar, mask, eps, beta=1.0):
        mu, logvar = self.encode(flux, mask)
        r = self.decode(mu + (0.5 * logvar).exp() * eps)
        half_chi2 = 0.5 * (ivar * (flux - r) ** 2).sum(1)
        kl = -0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(1)
        return (half_chi2 + beta * kl).mean()


def main():
    args = [int(a) for a in sys.argv[1:]]
    batch = args[0] if len(args) > 0 else 64
    length = args[1] if len(args) > 1 else 3000
    steps = args[2] if len(args) > 2 else 20
    threads = args[3] if len(args) > 3 else 1
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    flux = 1.0 + 0.1 * torch.rand(batch, length, generator=g)
    ivar = torch.where(torch.rand(batch, length, generator=g) < 0.1, 0.0, 100.0)
    mask = (ivar > 0).float()
    flux = flux * mask
    model = Vae(length)
    n_params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-5)
    times = []
    for step in range(3 + steps):
        eps = torch.randn(batch, 16, generator=g)
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = model.loss(flux, ivar, mask, eps)
        loss.backward()
        opt.step()
        dt = (time.perf_counter() - t0) * 1e3
        if step >= 3:
            times.append(dt)
    print(
        f"pytorch-{torch.__version__} threads={threads} batch={batch} len={length} params={n_params} "
        f"ms/step median={statistics.median(times):.2f} mean={statistics.fmean(times):.2f}"
    )


if __name__ == "__main__":
    main()
