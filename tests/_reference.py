"""The seed exercise's plain NumPy float64 network: the reference every backend is held to."""

import numpy as np


def reference_forward_backward(data, labels, params, dimensions):
    Dx, H, Dy = dimensions
    ofs = 0
    W1 = np.reshape(params[ofs : ofs + Dx * H], (Dx, H))
    ofs += Dx * H
    b1 = np.reshape(params[ofs : ofs + H], (1, H))
    ofs += H
    W2 = np.reshape(params[ofs : ofs + H * Dy], (H, Dy))
    ofs += H * Dy
    b2 = np.reshape(params[ofs : ofs + Dy], (1, Dy))
    h = 1 / (1 + np.exp(-(data @ W1 + b1)))
    z2 = h @ W2 + b2
    e = np.exp(z2 - z2.max(axis=1, keepdims=True))
    yhat = e / e.sum(axis=1, keepdims=True)
    cost = np.sum(-np.log(yhat[labels == 1]))
    d1 = yhat - labels
    gW2 = h.T @ d1
    gb2 = d1.sum(0)
    d3 = (d1 @ W2.T) * h * (1 - h)
    gW1 = data.T @ d3
    gb1 = d3.sum(0)
    return cost, np.concatenate([gW1.ravel(), gb1, gW2.ravel(), gb2])
