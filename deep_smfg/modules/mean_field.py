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
