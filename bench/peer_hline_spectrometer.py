#!/usr/bin/env python3
"""NumPy peer of astrolab's spectrometer (issue 5 benchmark).

The same algorithm as `astrolab hline process` with its defaults: Hann
window (periodic), non-overlapping frames of N samples, power |FFT|^2
normalised by sum(w^2), fftshifted, M = round(T fs / N) frames per
integration, spectral kurtosis SK = (M+1)/(M-1) (M S2/S1^2 - 1)
(Nita & Gary 2010, N = d = 1) with 3-sigma bounds. Reads the raw capture in
chunks (memory flat), one thread (numpy's FFT is single-threaded).

  make    FILE SAMPLES DTYPE      write a test capture (noise + a carrier)
  run     FILE RATE DTYPE N T     spectrometer; prints JSON with seconds
  compare OURS.sigmf-data PEER.npy N   max relative difference of spectra
"""
import json
import sys
import time

import numpy as np

SCALE = {"cu8": (np.uint8, 127.5, 128.0), "ci8": (np.int8, 0.0, 128.0), "ci16_le": (np.dtype("<i2"), 0.0, 32768.0)}


def make(path, n_samples, dtype):
    kind, off, scale = SCALE[dtype]
    rng = np.random.default_rng(5)
    chunk = 1 << 22
    with open(path, "wb") as f:
        done = 0
        while done < n_samples:
            k = min(chunk, n_samples - done)
            t = np.arange(done, done + k)
            x = 0.1 / np.sqrt(2) * (rng.standard_normal(k) + 1j * rng.standard_normal(k))
            x += 0.01 * np.exp(2j * np.pi * 0.2345 * t)
            iq = np.empty(2 * k, dtype=np.float64)
            iq[0::2], iq[1::2] = x.real, x.imag
            q = np.clip(np.round(iq * scale + off), np.iinfo(kind).min, np.iinfo(kind).max).astype(kind)
            q.tofile(f)
            done += k


def run(path, rate, dtype, n, integ_s, out_npy=None):
    kind, off, scale = SCALE[dtype]
    m = max(2, int(round(integ_s * rate / n)))
    w = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)).astype(np.float32)
    norm = float(np.sum(w.astype(np.float64) ** 2))
    lo_hi = None
    spectra, nflag = [], 0
    t0 = time.perf_counter()
    n_read = 0
    with open(path, "rb") as f:
        while True:
            raw = np.fromfile(f, dtype=kind, count=2 * n * m)
            if raw.size < 2 * n * m:
                n_read += raw.size // 2
                break
            n_read += m * n
            x = (raw.astype(np.float32) - np.float32(off)) * np.float32(1.0 / scale)
            z = (x[0::2] + 1j * x[1::2]).astype(np.complex64).reshape(m, n) * w
            p = np.abs(np.fft.fft(z, axis=1)) ** 2
            s1 = p.sum(axis=0, dtype=np.float64)
            s2 = (p.astype(np.float64) ** 2).sum(axis=0)
            sk = (m + 1) / (m - 1) * (m * s2 / s1**2 - 1)
            if lo_hi is None:
                var = 4.0 * m * m / ((m - 1) * (m + 2) * (m + 3))
                lo_hi = (1 - 3 * np.sqrt(var), 1 + 3 * np.sqrt(var))
            nflag += int(np.sum((sk < lo_hi[0]) | (sk > lo_hi[1])))
            spectra.append(np.fft.fftshift(s1 / m / norm).astype(np.float32))
    dt = time.perf_counter() - t0
    if out_npy:
        np.save(out_npy, np.array(spectra))
    print(json.dumps({"seconds": dt, "samples": n_read, "integrations": len(spectra),
                      "realtime_factor": n_read / rate / dt, "sk_flags": nflag}))


def compare(ours, peer, n):
    a = np.fromfile(ours, dtype="<f4").reshape(-1, n)
    b = np.load(peer)
    k = min(len(a), len(b))
    d = np.max(np.abs(a[:k] - b[:k]) / np.abs(b[:k]))
    print(json.dumps({"integrations_compared": k, "max_rel_diff": float(d)}))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "make":
        make(sys.argv[2], int(float(sys.argv[3])), sys.argv[4])
    elif cmd == "run":
        run(sys.argv[2], float(sys.argv[3]), sys.argv[4], int(sys.argv[5]), float(sys.argv[6]),
            sys.argv[7] if len(sys.argv) > 7 else None)
    elif cmd == "compare":
        compare(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        sys.exit(__doc__)
