"""A Gaussian-mixture mean-field estimate (``model.density=mixture``; docs/crowd.md, "The mean-field density").

``mu = sum_k w_k N(m_k, Sigma_k)`` over ``z in R^d``, ``K`` components with full covariances, kept as its
**sufficient statistics** ``S0_k = w_k``, ``S1_k = w_k m_k``, ``S2_k = w_k (Sigma_k + m_k m_k')``. AC-SMFG's
stochastic approximation is online EM (Cappe and Moulines 2009): for a batch ``z_1..z_N`` with the responsibilities
``r_ik = w_k N(z_i; m_k, Sigma_k) / sum_j w_j N(z_i; m_j, Sigma_j)`` at the current (detached) parameters,

    S0_k <- S0_k + xi (mean_i r_ik - S0_k)
    S1_k <- S1_k + xi (mean_i r_ik z_i - S1_k)
    S2_k <- S2_k + xi (mean_i r_ik z_i z_i' - S2_k)

which is one SGD step (learning rate ``xi``) on ``1/2 sum ||S - target||^2`` with the targets held fixed. The
mixture's mean ``sum_k S1_k`` moves exactly as the Gaussian's (:class:`~.mean_field.GaussianMeanField`),
``m <- m + xi (zbar - m)``; with ``K = 1`` the covariance's update agrees with the Gaussian's to first order in
``xi``. :meth:`project_` keeps every weight
``>= min_weight`` (the weights sum to 1) and every ``Sigma_k`` symmetric with eigenvalues ``>= min_var``.

The components start with equal weights, their means spread evenly along the diagonal of ``z``'s box (cell
centres of ``K`` equal cells) and the covariance ``diag((width / K)^2 / 4)``: distinct starts, so that EM can
separate the modes.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class MixtureMeanField(nn.Module):
    def __init__(self, low: Tensor, high: Tensor, n_components: int = 3, min_var: float = 1e-4,
                 min_weight: float = 1e-3):
        super().__init__()
        if n_components < 1:
            raise ValueError(f"a mixture needs at least one component, got {n_components}")
        low, high = (torch.as_tensor(v, dtype=torch.float32).reshape(-1) for v in (low, high))
        K, d = n_components, low.numel()
        self.min_var, self.min_weight = min_var, min_weight
        centres = (torch.arange(K, dtype=torch.float32)[:, None] + 0.5) / K
        means = low + centres * (high - low)  # [K, d]
        cov = torch.diag(((high - low) / K) ** 2 / 4).expand(K, d, d)
        self.s0, self.s1, self.s2 = (nn.Parameter(torch.zeros(shape)) for shape in ((K,), (K, d), (K, d, d)))
        self._set(torch.full((K,), 1.0 / K), means, cov)

    def components(self) -> tuple[Tensor, Tensor, Tensor]:
        """``(w [K], m [K, d], Sigma [K, d, d])`` from the sufficient statistics."""
        w = self.s0
        m = self.s1 / w[:, None]
        return w, m, self.s2 / w[:, None, None] - m[:, :, None] * m[:, None, :]

    def forward(self) -> Tensor:
        """The mixture's mean ``sum_k w_k m_k`` (what the games' rewards read as ``m``)."""
        return self.s1.sum(0)

    def covariance(self) -> Tensor:
        m = self.forward()
        return self.s2.sum(0) - m[:, None] * m[None, :]

    def _component_log_densities(self, z: Tensor) -> Tensor:
        """``log w_k + log N(z_i; m_k, Sigma_k)``, ``[N, K]``."""
        w, m, cov = self.components()
        L = torch.linalg.cholesky(cov)  # [K, d, d]
        diff = (z[:, None, :] - m[None]).unsqueeze(-1)  # [N, K, d, 1]
        y = torch.linalg.solve_triangular(L.expand(z.shape[0], -1, -1, -1), diff, upper=False).squeeze(-1)
        log_det = torch.log(torch.diagonal(L, dim1=-2, dim2=-1)).sum(-1)  # [K]
        d = z.shape[-1]
        return torch.log(w) - 0.5 * (y**2).sum(-1) - log_det - 0.5 * d * math.log(2 * math.pi)

    def log_density(self, z: Tensor) -> Tensor:
        """``log mu(z)``, ``[N]``."""
        return torch.logsumexp(self._component_log_densities(z.to(self.s0.dtype)), -1)

    def loss(self, z: Tensor) -> Tensor:
        """``1/2 sum ||S - target||^2`` for a batch ``z`` ``[N, d]`` (the targets, online EM's, detached)."""
        z = z.to(self.s0.dtype)
        with torch.no_grad():
            r = torch.softmax(self._component_log_densities(z), -1)  # [N, K]
            n = z.shape[0]
            t0, t1 = r.mean(0), r.T @ z / n
            t2 = torch.einsum("nk,ni,nj->kij", r, z, z) / n
        return 0.5 * (((self.s0 - t0) ** 2).sum() + ((self.s1 - t1) ** 2).sum() + ((self.s2 - t2) ** 2).sum())

    @torch.no_grad()
    def set_mean_(self, m: Tensor) -> None:
        """Translate every component so that the mixture's mean is ``m`` (weights and covariances kept)."""
        w, means, cov = self.components()
        self._set(w, means + (m.to(means) - self.forward()), cov)

    @torch.no_grad()
    def _set(self, w: Tensor, m: Tensor, cov: Tensor) -> None:
        self.s0.copy_(w)
        self.s1.copy_(w[:, None] * m)
        self.s2.copy_(w[:, None, None] * (cov + m[:, :, None] * m[:, None, :]))

    @torch.no_grad()
    def project_(self) -> None:
        w, m, cov = self.components()
        w = w.clamp_min(self.min_weight)
        w = w / w.sum()
        sym = (cov + cov.transpose(-1, -2)) / 2
        vals, vecs = torch.linalg.eigh(sym)
        cov = vecs @ torch.diag_embed(vals.clamp_min(self.min_var)) @ vecs.transpose(-1, -2)
        self._set(w, m, cov)
