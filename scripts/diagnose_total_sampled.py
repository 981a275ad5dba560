"""The sampled total Stackelberg gradient, term by term, against the exact one along a training run
(docs/stackelberg_gradient.md, "Where the sampled estimator fails").

The learner of ``deep-smfg train <overrides>`` (default ``algo=ac_smfg_total``) trains; at each iteration of
``--at`` a copy of it freezes its leader (step size 0) and runs ``--average`` more iterations, averaging the gradient
of each of the leader loss's three terms in the leader's logits (``TracedLeaderGradient.leader_terms``). Each average
is compared with ``(1 - gamma)`` times the same term of the exact gradient at the current leader
(``exact.stackelberg_gradient(...).terms()``: partial, the followers' answer at the frozen population, the
population's answer): its cosine, and its error relative to the exact total's norm. The training itself goes on from
the un-frozen learner, so the diagnosis does not change the run.

    python scripts/diagnose_total_sampled.py game=random_smfg game.seed=1 --at 0 2000 5000 --average 2000
"""

from __future__ import annotations

import argparse
import copy
import json
import textwrap

import torch

from deep_smfg import exact
from deep_smfg.cli import compose_config
from deep_smfg.config import build_learner, game_of
from deep_smfg.learners import PowerSchedule

TERMS = ("partial", "followers", "population")


Directions = dict[str, torch.Tensor]


def averaged_terms(learner, iterations: int, blocks: int = 4) -> tuple[Directions, Directions]:
    """The three terms' ascent directions in the leader's logits, averaged over ``iterations`` frozen-leader steps of a
    copy of ``learner``, and the standard error of each average (from ``blocks`` consecutive block means)."""
    learner.last_transition = None  # holds the last iteration's graph, which cannot be copied
    frozen = copy.deepcopy(learner)
    frozen.schedules["leader"] = PowerSchedule(0.0)
    frozen._standalone_optimizers = None  # new optimisers for the copy's parameters
    theta = next(frozen.leader.parameters())
    estimator = frozen.leader_gradient
    sums = {name: torch.zeros(blocks, *theta.shape, dtype=theta.dtype) for name in TERMS}
    leader_terms = estimator.leader_terms
    step = [0]

    def spy(*args):
        terms = leader_terms(*args)
        block = step[0] * blocks // iterations
        for name, loss in terms.items():
            (grad,) = torch.autograd.grad(loss, theta, retain_graph=True)
            sums[name][block] -= grad * blocks / iterations
        step[0] += 1
        return terms

    estimator.leader_terms = spy
    frozen.run_standalone(iterations)
    means = {name: s.mean(0) for name, s in sums.items()}
    errors = {name: s.std(0) / blocks**0.5 for name, s in sums.items()}
    errors["total"] = sum(sums.values()).std(0) / blocks**0.5
    return means, errors


def exact_terms(game, learner) -> tuple[dict[str, torch.Tensor], float, torch.Tensor]:
    """The exact terms (times ``1 - gamma``, in logits) at the learner's leader, ``Phi`` there, and the adjoint."""
    theta = next(learner.leader.parameters()).detach().double()
    phi = torch.softmax(theta, -1)
    grad = exact.stackelberg_gradient(game, phi)
    scale = 1 - game.gamma
    terms = {name: scale * exact.logit_gradient(phi, g) for name, g in grad.terms().items()}
    return terms, grad.value, scale * grad.adjoint


@torch.no_grad()
def critic_errors(game, learner) -> dict[str, float]:
    """The estimator's leader advantage ``A_l = Q_l - V_l`` and the follower's critic ``V_f`` against their exact
    values for the learner's own policies and mean field (``V_f`` up to a constant: only its differences enter)."""
    f64 = torch.float64
    agents = learner.agents()
    states = torch.arange(game.n_states)
    pi = torch.softmax(agents.follower(states), -1).to(f64)
    phi = torch.softmax(agents.leader(states), -1).to(f64)
    mu = agents.mean_field().detach().to(f64)
    P, r_l = game.transition_tensor(mu), game.reward_l_tensor(mu)
    V_l = exact.discounted_value(exact.state_kernel(P, pi, phi), exact.state_reward(r_l, pi, phi), game.gamma)
    Q_l = torch.einsum("sb,sab->sa", phi, r_l + game.gamma * P @ V_l)
    A_l = Q_l - (pi * Q_l).sum(-1, keepdim=True)
    q = learner.leader_gradient.q_l(states).to(f64)
    A_learned = q - (pi * q).sum(-1, keepdim=True)
    mdp = exact.follower_mdp(game, phi, mu)
    V_f = exact.soft_policy_evaluation(mdp.r_phi, mdp.P_phi, pi, game.gamma, game.tau).V
    V_learned = agents.critic_f(states).to(f64)
    centred = (V_learned - V_learned.mean()) - (V_f - V_f.mean())
    return {"A_l": float((A_learned - A_l).norm() / A_l.norm()),
            "V_f": float(centred.norm() / (V_f - V_f.mean()).norm())}


def adjoint_error(learned: torch.Tensor, exact_y: torch.Tensor) -> dict[str, float]:
    """The learned adjoint against the exact one, both up to a constant (the pseudo-reward is centred)."""
    a, b = learned.detach().double(), exact_y.double()
    a, b = a - a.mean(), b - b.mean()
    return {"cosine": exact.cosine(a, b), "error": float((a - b).norm() / b.norm())}


def compare(got: dict[str, torch.Tensor], noise: dict[str, torch.Tensor],
            want: dict[str, torch.Tensor]) -> dict[str, dict[str, float]]:
    total = sum(want.values())
    rows = {}
    for name in (*TERMS, "total"):
        g = sum(got.values()) if name == "total" else got[name]
        w = total if name == "total" else want[name]
        g = g.double()
        rows[name] = {"cosine": exact.cosine(g, w), "error": float((g - w).norm() / total.norm()),
                      "noise": float(noise[name].norm() / total.norm()),
                      "norm_ratio": float(g.norm() / w.norm()) if w.norm() > 0 else float("nan")}
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("overrides", nargs="*")
    parser.add_argument("--at", type=int, nargs="+", default=[0, 2000, 5000, 10000])
    parser.add_argument("--average", type=int, default=2000)
    parser.add_argument("--json", default=None, help="write the rows here")
    parser.add_argument("--plot", nargs="+", default=None, metavar="JSON",
                        help="only draw these --json files, side by side, into --out")
    parser.add_argument("--out", default="docs/total_sampled_terms.png")
    args = parser.parse_args()
    if args.plot:
        plot(args.plot, args.out)
        return
    torch.set_num_threads(1)
    cfg = compose_config("train", ["algo=ac_smfg_total", *args.overrides])
    game = game_of(cfg)
    learner = build_learner(cfg, game)
    if cfg.dtype == "float64":
        learner = learner.double()
    phi_star = exact.reference_leader_optimum(game).value
    phi_uniform = exact.leader_objective(game, game.uniform_leader())
    rows = []
    print(f"{game.name} {dict(game.info)}: Phi* = {phi_star:.4f}, Phi(uniform) = {phi_uniform:.4f}")
    print("| iteration | gap / gain | term | cosine | error / norm of total | its noise | norm ratio |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    done = 0
    for k in sorted(args.at):
        learner.run_standalone(k - done)
        done = k
        want, value, y = exact_terms(game, learner)
        adjoint = adjoint_error(learner.leader_gradient.y, y)
        critics = critic_errors(game, learner)
        got, noise = averaged_terms(learner, args.average)
        gap = (phi_star - value) / (phi_star - phi_uniform)
        for name, r in compare(got, noise, want).items():
            print(f"| {k:,} | {gap:.3f} | {name} | {r['cosine']:.3f} | {r['error']:.3f} | {r['noise']:.3f} | "
                  f"{r['norm_ratio']:.3f} |")
            rows.append({"iteration": k, "gap_share": gap, "term": name, **r})
        print(f"| {k:,} | {gap:.3f} | adjoint y | {adjoint['cosine']:.3f} | {adjoint['error']:.3f} | | |")
        rows.append({"iteration": k, "gap_share": gap, "term": "adjoint", **adjoint})
        print(f"| {k:,} | {gap:.3f} | critics: A_l, V_f relative error | | {critics['A_l']:.3f}, "
              f"{critics['V_f']:.3f} | | |")
        rows.append({"iteration": k, "gap_share": gap, "term": "critics", **critics})
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"overrides": args.overrides, "phi_star": phi_star, "rows": rows}, f, indent=1)


def plot(paths: list[str], out: str) -> None:
    """Cosine (top) and error relative to the exact total's norm (bottom) of each term along training, one column per
    diagnosed run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(paths), figsize=(5 * len(paths), 6), squeeze=False, sharex="col")
    for col, path in enumerate(paths):
        with open(path) as f:
            d = json.load(f)
        for name in (*TERMS, "total", "adjoint"):  # the adjoint's error is relative to its own norm
            rows = [r for r in d["rows"] if r["term"] == name]
            k = [r["iteration"] for r in rows]
            axes[0, col].plot(k, [r["cosine"] for r in rows], marker="o", label=name)
            axes[1, col].plot(k, [r["error"] for r in rows], marker="o", label=name)
        gaps = {r["iteration"]: r["gap_share"] for r in d["rows"]}
        axes[0, col].set_title(textwrap.fill(" ".join(d["overrides"]), 60) + "\ngap / gain: " +
                               ", ".join(f"{g:.2f}" for g in gaps.values()), fontsize=9)
        axes[0, col].set_ylabel("cosine with the exact term")
        axes[1, col].set_ylabel("error / norm of the exact total\n(adjoint: of its own)")
        axes[1, col].set_xlabel("iteration")
        axes[0, col].set_ylim(-1.05, 1.05)
        axes[0, col].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    main()
