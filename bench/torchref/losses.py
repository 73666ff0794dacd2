"""The supervised losses of lib/loss/*.c in PyTorch, term by term (value and normaliser
as in the C code; autograd gives the gradients the C code writes by hand). Defaults are
libdh's (lib/loss/*_defaults, docs/methods.md). Every loss takes the model output z
(B x K: the head pre-activation, or the BN head's output), one-hot labels y (B x C),
class ids (B,) and training-set indices (B,).

    L = make("csq", K=64, C=10, centers=...)   # centers: libdh's, from dh.Loss.get_tensor
    value = L(z, y, cls, idx); value.backward(); L.after_step()
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def _sim(y):
    return (y @ y.t() > 0.5).float()


class Base:
    bn_head = False

    def __init__(self, K, C, **kw):
        self.K, self.C = K, C

    def params(self):
        return []

    def epoch_begin(self, e):
        pass

    def after_step(self):
        pass

    def describe(self):
        return ""


class HashNet(Base):
    """pairwise.c hashnet_fb, variant 0: u = tanh(beta z); theta = alpha u u^T over the
    batch (diagonal included); softplus(theta) - s theta weighted 1/|S1|, 1/|S0|;
    official continuation beta = sqrt(1 + 0.005 t) at every 200th forward."""

    def __init__(self, K, C, alpha=None, **kw):
        super().__init__(K, C)
        self.alpha = alpha if alpha else 10.0 / K
        self.beta, self.it = 1.0, 0

    def __call__(self, z, y, cls, idx):
        self.it += 1
        if self.it % 200 == 0:
            self.beta = math.sqrt(1.0 + 0.005 * self.it)
        u = torch.tanh(self.beta * z)
        s = _sim(y)
        th = self.alpha * u @ u.t()
        l = F.softplus(th) - s * th
        n1 = s.sum()
        n0 = s.numel() - n1
        v = z.new_zeros(())
        if n1 > 0:
            v = v + (l * s).sum() / n1
        if n0 > 0:
            v = v + (l * (1 - s)).sum() / n0
        return v

    def describe(self):
        return f"beta {self.beta:.3f}"


class DPSH(Base):
    """pairwise.c dpsh_fb: bank M (N x K) of the last outputs (written before use, a
    constant in backward); theta = u M^T / 2 against every banked row;
    [sum softplus(theta) - s theta + lam sum (u - sgn u)^2] / (N B), lam = 50."""

    def __init__(self, K, C, n_train, train_labels, lam=50.0, **kw):
        super().__init__(K, C)
        self.M = torch.zeros(n_train, K)
        self.YM = train_labels
        self.lam = lam

    def __call__(self, z, y, cls, idx):
        self.M[idx] = z.detach()
        s = (y @ self.YM.t() > 0.5).float()
        th = 0.5 * z @ self.M.t()
        norm = 1.0 / (self.M.shape[0] * z.shape[0])
        q = ((z - torch.where(z >= 0, 1.0, -1.0)) ** 2).sum()
        return ((F.softplus(th) - s * th).sum() + self.lam * q) * norm


class DCH(Base):
    """pairwise.c dch_fb: d = K/2 (1 - min(cos, 0.99)), cos over max(|u_i||u_j|, 1e-4);
    weights B^2/|S1|, B^2/|S0|; s log(d/g) + log(1 + g/d), mean over B^2 pairs;
    + lam mean_i log(1 + d(|u_i|, 1)/g); g = 20, lam = 0.1."""

    def __init__(self, K, C, gamma=20.0, lam=0.1, **kw):
        super().__init__(K, C)
        self.g, self.lam = gamma, lam

    def __call__(self, u, y, cls, idx):
        B, K, g = u.shape[0], self.K, self.g
        s = _sim(y)
        nr = u.norm(dim=1)
        c = (u @ u.t()) / (nr[:, None] * nr[None, :]).clamp(min=1e-4)
        d = 0.5 * K * (1 - c.clamp(max=0.99))
        s1 = s.sum()
        s0 = s.numel() - s1
        BB = float(B * B)
        if s1 > 0 and s0 > 0:
            w = torch.where(s > 0.5, BB / s1, BB / s0)
        else:
            w = torch.ones_like(s)
        vp = (w * (s * torch.log(d / g) + torch.log1p(g / d))).sum() / BB
        cq = u.abs().sum(1) / (nr * math.sqrt(K)).clamp(min=1e-4)
        dq = 0.5 * K * (1 - cq.clamp(max=0.99))
        return vp + self.lam * torch.log1p(dq / g).sum() / B


class DSH(Base):
    """pairwise.c dsh_fb: D = |u_i - u_j|^2 (0 on the diagonal); similar 1/2 D,
    dissimilar 1/2 max(m - D, 0), mean over B^2; + 2 alpha sum ||u| - 1| / B;
    m = 2K, alpha = 0.01."""

    def __init__(self, K, C, margin=None, alpha=0.01, **kw):
        super().__init__(K, C)
        self.m = margin if margin else 2.0 * K
        self.al = alpha

    def __call__(self, u, y, cls, idx):
        B = u.shape[0]
        s = _sim(y)
        n2 = (u * u).sum(1)
        D = (n2[:, None] + n2[None, :] - 2 * u @ u.t()).clamp(min=0)
        D = D * (1 - torch.eye(B))
        v = (0.5 * s * D + 0.5 * (1 - s) * F.relu(self.m - D)).sum() / (B * B)
        return v + 2 * self.al * (u.abs() - 1).abs().sum() / B


class GreedyHash(Base):
    """center.c greedy_fb: b = sgn(z) forward, straight-through backward; softmax CE of
    b W^T (classifier C x K, no bias, U(+-1/sqrt K)), mean over B; + alpha mean
    ||z| - 1|^3, alpha = 0.1."""

    def __init__(self, K, C, alpha=0.1, **kw):
        super().__init__(K, C)
        self.W = nn.Parameter(torch.empty(C, K).uniform_(-1 / math.sqrt(K), 1 / math.sqrt(K)))
        self.al = alpha

    def params(self):
        return [self.W]

    def __call__(self, z, y, cls, idx):
        b = z + (torch.where(z >= 0, 1.0, -1.0) - z).detach()
        ce = F.cross_entropy(b @ self.W.t(), cls)
        return ce + self.al * ((z.abs() - 1).abs() ** 3).mean()


class CSQ(Base):
    """center.c csq_fb: u = tanh z; BCE in logit form softplus(2z) - z (t + 1) against
    the class center t, + lam (|u| - 1)^2, both means over B K; lam = 1e-4."""

    def __init__(self, K, C, centers, lam=1e-4, **kw):
        super().__init__(K, C)
        self.T = torch.as_tensor(centers, dtype=torch.float32)
        self.lam = lam

    def __call__(self, z, y, cls, idx):
        t = self.T[cls]
        u = torch.tanh(z)
        return (F.softplus(2 * z) - z * (t + 1)).mean() + self.lam * ((u.abs() - 1) ** 2).mean()


class DPN(Base):
    """center.c dpn_fb: sum over bits of max(0, m - u t) / B against the class center,
    m = 1, no regulariser, fixed (Bernoulli) centers."""

    def __init__(self, K, C, centers, margin=1.0, **kw):
        super().__init__(K, C)
        self.T = torch.as_tensor(centers, dtype=torch.float32)
        self.m = margin

    def __call__(self, u, y, cls, idx):
        return F.relu(self.m - u * self.T[cls]).sum() / u.shape[0]


class OrthoHash(Base):
    """cosine.c ortho_fb, variant 0: BN head v; cos_ic = v T_c / (|v| sqrt K);
    softmax CE of s (cos - m y), mean over B; s = 8, m = 0.2, no quantisation term."""
    bn_head = True

    def __init__(self, K, C, centers, scale=8.0, margin=0.2, **kw):
        super().__init__(K, C)
        self.T = torch.as_tensor(centers, dtype=torch.float32)
        self.s, self.m = scale, margin

    def __call__(self, v, y, cls, idx):
        cos = v @ self.T.t() / (v.norm(dim=1, keepdim=True).clamp(min=1e-12) * math.sqrt(self.K))
        return F.cross_entropy(self.s * (cos - self.m * y), cls)


class SPRCH(Base):
    """proxy.c sprch_fb, variant 0 (pair + proxy): u = tanh z; proxies p_c =
    tanh(W[:, c] + b) (nn.Linear(C, K) init); cosine similarities to every batch row
    (self included) and every proxy; per anchor -log(P / (P + N)) with
    a = lam om exp(v / tau), om = exp(-(1 + v) delta / 4) (positive) or
    exp((v - 1) delta) (negative) and the proxy weights lam = |pos pairs|/|pos labels|,
    |neg pairs|/|neg labels| held constant; delta = e / (n_epochs // 3) for the first
    third, then 1; mean over B; tau = 0.3."""

    def __init__(self, K, C, tau=0.3, n_epochs=100, **kw):
        super().__init__(K, C)
        a = 1 / math.sqrt(C)
        self.W = nn.Parameter(torch.empty(K, C).uniform_(-a, a))
        self.b = nn.Parameter(torch.empty(K).uniform_(-a, a))
        self.tau, self.n_epochs, self.delta = tau, n_epochs, 1.0

    def params(self):
        return [self.W, self.b]

    def epoch_begin(self, e):
        E3, e1 = self.n_epochs // 3, e + 1
        self.delta = e1 / E3 if E3 > 0 and e1 <= E3 else 1.0

    def __call__(self, z, y, cls, idx):
        B, C = z.shape[0], self.C
        uh = F.normalize(torch.tanh(z), dim=1, eps=1e-12)
        ph = F.normalize(torch.tanh(self.W.t() + self.b[None, :]), dim=1, eps=1e-12)
        S = _sim(y)
        v = torch.cat([uh @ uh.t(), uh @ ph.t()], 1)              # B x (B + C)
        pos = torch.cat([S, y], 1) > 0.5
        pc, yc = S.sum(1), y.sum(1)
        lp = torch.where(yc > 0, pc / yc.clamp(min=1), torch.zeros_like(pc))
        ln = torch.where(C - yc > 0, (B - pc) / (C - yc).clamp(min=1), torch.zeros_like(pc))
        lam = torch.cat([torch.ones(B, B), torch.where(y > 0.5, lp[:, None], ln[:, None])], 1)
        vd = v.detach()
        om = torch.where(pos, torch.exp(-(1 + vd) * self.delta / 4), torch.exp((vd - 1) * self.delta))
        a = lam * om * torch.exp(v / self.tau)
        P = (a * pos).sum(1)
        N = (a * ~pos).sum(1)
        keep = P > 0
        return (torch.log(P + N) - torch.log(P))[keep].sum() / B


METHODS = {"hashnet": HashNet, "dpsh": DPSH, "dch": DCH, "dsh": DSH, "greedyhash": GreedyHash,
           "csq": CSQ, "dpn": DPN, "orthohash": OrthoHash, "sprch": SPRCH}
NEEDS_CENTERS = ("csq", "dpn", "orthohash")


def make(method, K, C, **kw):
    return METHODS[method](K, C, **kw)
