"""The categorical mean-field estimate, a probability vector kept on the simplex.

AC-SMFG's update ``mu <- Proj_simplex(mu + xi (e_z - mu))`` is one SGD step (learning rate ``xi``)
on ``1/2 ||mu - e_z||^2`` followed by the Euclidean projection; with a batch of ``N`` draws the loss
is ``1/2 ||mu - mean_i e_{z_i}||^2``. With SGD and ``xi <= 1`` the step stays on the simplex; the
projection matters for other optimisers (Adam).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def project_simplex(v: Tensor) -> Tensor:
    """Euclidean projection of ``v`` onto the probability simplex (sort-based, exact)."""
    n = v.shape[-1]
    u, _ = torch.sort(v, descending=True)
    css = u.cumsum(-1) - 1
    idx = torch.arange(1, n + 1, device=v.device, dtype=v.dtype)
    cond = u - css / idx > 0
    rho = cond.to(v.dtype).cumsum(-1).argmax(-1, keepdim=True)  # last index where cond holds
    theta = css.gather(-1, rho) / (rho + 1).to(v.dtype)
    return (v - theta).clamp_min(0)


class CategoricalMeanField(nn.Module):
    def __init__(self, n_z: int):
        super().__init__()
        self.mu = nn.Parameter(torch.full((n_z,), 1.0 / n_z))

    def forward(self) -> Tensor:
        return self.mu

    def loss(self, z: Tensor) -> Tensor:
        """``1/2 ||mu - mean_i e_{z_i}||^2`` for a batch of contributions ``z`` (indices)."""
        counts = torch.bincount(z, minlength=self.mu.shape[0]).to(self.mu.dtype)
        return 0.5 * ((self.mu - counts / z.shape[0]) ** 2).sum()

    @torch.no_grad()
    def project_(self) -> None:
        self.mu.copy_(project_simplex(self.mu))


class GaussianMeanField(nn.Module):
    """A Gaussian mean-field estimate ``N(m, Sigma)`` over ``z in R^d`` (covariance ``"diag"`` or ``"full"``).

    AC-SMFG's stochastic approximation, for a batch ``z_1..z_N`` with ``zbar = mean_i z_i`` and
    ``C = mean_i (z_i - m)(z_i - m)^T`` (centred at the current, detached ``m``)::

        m     <- m + xi (zbar - m)
        Sigma <- Sigma + xi (C - Sigma)        (diag: the diagonal only)

    is one SGD step (learning rate ``xi``) on ``1/2 ||m - zbar||^2 + 1/2 ||Sigma - C||_F^2`` with ``zbar``, ``C``
    held fixed; :meth:`project_` then keeps ``Sigma`` symmetric with eigenvalues ``>= min_var``. With
    ``xi_k = 1 / (k + 1)`` the mean is exactly the running sample mean.
    """

    def __init__(self, init_mean: Tensor, init_var: Tensor, covariance: str = "diag", min_var: float = 1e-6):
        super().__init__()
        if covariance not in ("diag", "full"):
            raise ValueError(f"covariance must be 'diag' or 'full', got {covariance!r}")
        init_mean = torch.as_tensor(init_mean, dtype=torch.float32).reshape(-1)
        init_var = torch.as_tensor(init_var, dtype=torch.float32).reshape(-1).expand_as(init_mean)
        self.kind, self.min_var = covariance, min_var
        self.mean = nn.Parameter(init_mean.clone())
        self.cov = nn.Parameter(init_var.clone() if covariance == "diag" else torch.diag(init_var))

    def forward(self) -> Tensor:
        """The mean ``m`` (what the games' rewards read)."""
        return self.mean

    def covariance(self) -> Tensor:
        return torch.diag(self.cov) if self.kind == "diag" else self.cov

    def components(self) -> tuple[Tensor, Tensor, Tensor]:
        """``(w [1], m [1, d], Sigma [1, d, d])``: a one-component mixture (the interface of
        :class:`~.mixture_mean_field.MixtureMeanField`)."""
        return torch.ones(1, dtype=self.mean.dtype, device=self.mean.device), self.mean[None], self.covariance()[None]

    def loss(self, z: Tensor) -> Tensor:
        """``1/2 ||m - zbar||^2 + 1/2 ||Sigma - C||^2`` for a batch ``z`` ``[N, d]`` (targets detached)."""
        z = z.to(self.mean.dtype)
        with torch.no_grad():
            centred = z - self.mean
            target = (centred**2).mean(0) if self.kind == "diag" else centred.T @ centred / z.shape[0]
        return 0.5 * ((self.mean - z.mean(0)) ** 2).sum() + 0.5 * ((self.cov - target) ** 2).sum()

    def log_density(self, z: Tensor) -> Tensor:
        return torch.distributions.MultivariateNormal(self.mean, self.covariance()).log_prob(z)

    @torch.no_grad()
    def set_mean_(self, m: Tensor) -> None:
        """Move the density so that its mean is ``m`` (its covariance kept)."""
        self.mean.copy_(m)

    @torch.no_grad()
    def project_(self) -> None:
        if self.kind == "diag":
            self.cov.clamp_(min=self.min_var)
        else:
            sym = (self.cov + self.cov.T) / 2
            vals, vecs = torch.linalg.eigh(sym)
            self.cov.copy_(vecs @ torch.diag(vals.clamp_min(self.min_var)) @ vecs.T)
