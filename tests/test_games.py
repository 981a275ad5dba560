"""Game definitions: sampled rollouts agree with the dense tensors, the tensors agree with hand
formulas written here from ENVIRONMENTS.md, and invalid games are rejected with useful messages."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from helpers import ALL_CONFIGS, config_id, np64

from deep_smfg.games import GAMES, FiniteGame, GameDefinitionError, game_parameters, make_game, sample_categorical

f64 = torch.float64


def random_mu(game, seed: int, dtype=f64) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(game.n_z, generator=gen, dtype=f64) + 0.05
    return (x / x.sum()).to(dtype)


# ----- sampled rollouts vs dense tensors ------------------------------------------------------------


@pytest.mark.parametrize("cfg", ALL_CONFIGS, ids=config_id)
def test_sampled_transitions_match_the_transition_tensor(cfg):
    game = make_game(cfg[0], **cfg[1])
    gen = torch.Generator().manual_seed(0)
    mu = random_mu(game, 1)
    n_triples, reps = 20, 10_000
    s = torch.randint(game.n_states, (n_triples,), generator=gen)
    a = torch.randint(game.n_actions, (n_triples,), generator=gen)
    b = torch.randint(game.n_leader_actions, (n_triples,), generator=gen)
    idx = torch.arange(n_triples).repeat(reps)  # 200k samples, 10k per (s, a, b)
    s_next = game.sample_next_state(s[idx], a[idx], b[idx], mu, generator=gen)
    assert s_next.shape == (n_triples * reps,) and s_next.dtype == torch.long
    counts = torch.zeros(n_triples, game.n_states, dtype=f64)
    counts.index_put_((idx, s_next), torch.ones_like(s_next, dtype=f64), accumulate=True)
    freq = counts.numpy() / reps
    P = np64(game.transition_tensor(mu)[s, a, b])  # [n_triples, S]
    se = np.sqrt(P * (1 - P) / reps)
    assert (np.abs(freq - P) <= 5 * se + 1e-12).all(), np.abs(freq - P).max()
    assert (freq[P == 0] == 0).all()  # impossible transitions never happen


@pytest.mark.parametrize("cfg", ALL_CONFIGS, ids=config_id)
def test_batched_rewards_index_the_reward_tensors(cfg):
    game = make_game(cfg[0], **cfg[1])
    mu = random_mu(game, 2)
    S, A, B = game.n_states, game.n_actions, game.n_leader_actions
    s, a, b = (t.flatten() for t in torch.meshgrid(torch.arange(S), torch.arange(A), torch.arange(B), indexing="ij"))
    rf, rl = game.reward_f_tensor(mu), game.reward_l_tensor(mu)
    assert rf.shape == rl.shape == (S, A, B)
    np.testing.assert_array_equal(np64(game.r_f(s, a, b, mu)), np64(rf).reshape(-1))
    np.testing.assert_array_equal(np64(game.r_l(s, a, b, mu)), np64(rl).reshape(-1))


def expected_z(game, s: int, a: int, b: int) -> int:
    if game.name == "equilibrium_pricing":
        n_h = game.n_actions // game.n_z  # a = q (H + 1) + h, |Z| = Q + 1
        return a // n_h  # z = q
    if game.name == "congestion_toll":
        return a  # z = the route
    return s  # z = s


@pytest.mark.parametrize("cfg", ALL_CONFIGS, ids=config_id)
def test_sample_z_agrees_with_g(cfg):
    game = make_game(cfg[0], **cfg[1])
    S, A, B = game.n_states, game.n_actions, game.n_leader_actions
    s, a, b = (t.flatten() for t in torch.meshgrid(torch.arange(S), torch.arange(A), torch.arange(B), indexing="ij"))
    z = game.sample_z(s, a, b)
    g = np64(game.g)
    assert g.shape == (S, A, B, game.n_z)
    for si, ai, bi, zi in zip(s.tolist(), a.tolist(), b.tolist(), z.tolist(), strict=True):
        assert zi == expected_z(game, si, ai, bi)
        assert g[si, ai, bi, zi] == 1.0


def test_sample_z_with_a_stochastic_g():
    # z = the state with probability 0.7, else the action: g is not one-hot
    S, A = 2, 2
    g = torch.zeros(S, A, 1, 2, dtype=f64)
    for s in range(S):
        for a in range(A):
            g[s, a, 0, s] += 0.7
            g[s, a, 0, a] += 0.3
    game = FiniteGame(
        name="stoch_z", transition=torch.full((S, A, 1, S), 0.5, dtype=f64), reward_f=torch.zeros(S, A, 1),
        reward_l=torch.zeros(S, A, 1), rho=[0.5, 0.5], gamma=0.9, tau=1.0, g=g,
    )
    gen = torch.Generator().manual_seed(3)
    n = 100_000
    s = torch.zeros(n, dtype=torch.long)
    a = torch.ones(n, dtype=torch.long)
    z = game.sample_z(s, a, torch.zeros(n, dtype=torch.long), generator=gen)
    freq = (z == 1).double().mean().item()
    assert abs(freq - 0.3) < 5 * math.sqrt(0.3 * 0.7 / n)


@pytest.mark.parametrize("name,kw", [("shop_positioning", {}), ("equilibrium_pricing", {})])
def test_initial_states_follow_rho(name, kw):
    game = make_game(name, **kw)
    gen = torch.Generator().manual_seed(9)
    n = 100_000
    s0 = game.sample_initial_state(n, generator=gen)
    freq = torch.bincount(s0, minlength=game.n_states).double().numpy() / n
    rho = np64(game.rho)
    assert (np.abs(freq - rho) <= 5 * np.sqrt(rho * (1 - rho) / n) + 1e-12).all()


def test_sample_categorical_never_draws_a_zero_probability_outcome(monkeypatch):
    """Inverse-CDF sampling must not return a leading zero-probability category when u = 0.

    ``torch.rand`` returns exactly 0 with probability 2^-24 in float32 (2^-53 in float64): rare,
    but a long float32 rollout draws billions of samples.
    """
    real_rand = torch.rand
    monkeypatch.setattr(torch, "rand", lambda *args, **kw: torch.zeros_like(real_rand(*args, **kw)))
    for dtype in (torch.float32, f64):
        probs = torch.tensor([[0.0, 0.3, 0.7], [0.0, 0.0, 1.0]], dtype=dtype)
        draws = sample_categorical(probs)
        assert probs[torch.arange(2), draws].min().item() > 0, draws


# ----- the dense tensors vs hand formulas --------------------------------------------------------


PRICING = dict(x_max=3, q_max=2, h_max=2, d=4.0, e0=1.0, sigma=2.0, costs=(0.5, 0.25, 0.3, 0.5, 0.1), n_subsidy=5,
               b_max=0.4, p_target=1.5, kappa=0.3, w_price=1.0, gamma=0.9, tau=0.2)


@pytest.mark.parametrize("leader,w_stake", [("incentive", 0.0), ("stake", 1.0)])
@pytest.mark.parametrize("delivery_noise", [0.0, 0.25])
def test_equilibrium_pricing_matches_hand_formulas(leader, w_stake, delivery_noise):
    kw = dict(PRICING, leader=leader, delivery_noise=delivery_noise)
    game = make_game("equilibrium_pricing", **kw)
    x_max, H, d, e0, sigma = kw["x_max"], kw["h_max"], kw["d"], kw["e0"], kw["sigma"]
    c0, c1, c2, c3, c4 = kw["costs"]
    subsidies = [-0.4, -0.2, 0.0, 0.2, 0.4]
    assert (game.n_states, game.n_actions, game.n_leader_actions, game.n_z) == (4, 9, 5, 3)
    mu = torch.tensor([0.2, 0.3, 0.5], dtype=f64)  # law of q
    price = (d / (0 * 0.2 + 1 * 0.3 + 2 * 0.5 + e0)) ** (1 / sigma)
    P, rf, rl = np64(game.transition_tensor(mu)), np64(game.reward_f_tensor(mu)), np64(game.reward_l_tensor(mu))
    for x in range(x_max + 1):
        for q in range(kw["q_max"] + 1):
            for h in range(H + 1):
                a = q * (H + 1) + h
                for bi, b in enumerate(subsidies):
                    row = [0.0] * (x_max + 1)
                    row[min(x - min(q, x) + h, x_max)] += 1 - delivery_noise
                    row[x - min(q, x)] += delivery_noise
                    np.testing.assert_allclose(P[x, a, bi], row, atol=1e-15)
                    r_f = (price + b - c0) * q - c1 * q**2 - c2 * h - (c2 + c3) * max(q - x, 0) - c4 * x
                    r_l = -((price - kw["p_target"]) ** 2) - kw["kappa"] * b**2 - w_stake * b * q
                    assert rf[x, a, bi] == pytest.approx(r_f, abs=1e-12), (x, q, h, b)
                    assert rl[x, a, bi] == pytest.approx(r_l, abs=1e-12), (x, q, h, b)
    assert np64(game.rho).tolist() == [1.0, 0.0, 0.0, 0.0]


def test_equilibrium_pricing_selected_entries():
    # a few entries worked out by hand (sigma = 1): mu = (0.5, 0.5, 0) so E[q] = 0.5 and p = 4 / 1.5
    game = make_game("equilibrium_pricing", **dict(PRICING, sigma=1.0, leader="incentive"))
    mu = torch.tensor([0.5, 0.5, 0.0], dtype=f64)
    p = 4 / 1.5
    rf, P = game.reward_f_tensor(mu), game.transition_tensor(mu)
    # x = 1, q = 2, h = 1 (a = 7), b = +0.4: sells 1, replenishes 1 -> x' = 1; short by 1
    assert rf[1, 7, 4].item() == pytest.approx((p + 0.4 - 0.5) * 2 - 0.25 * 4 - 0.3 - 0.8 * 1 - 0.1, abs=1e-12)
    assert P[1, 7, 4].tolist() == [0.0, 1.0, 0.0, 0.0]
    # x = 3, q = 0, h = 2 (a = 2), b = -0.4: inventory capped at x_max = 3
    assert rf[3, 2, 0].item() == pytest.approx(-0.6 - 0.3, abs=1e-12)
    assert P[3, 2, 0].tolist() == [0.0, 0.0, 0.0, 1.0]
    # x = 0, q = 1, h = 0 (a = 3), b = 0: nothing to sell, x' = 0
    assert rf[0, 3, 2].item() == pytest.approx((p - 0.5) - 0.25 - 0.8, abs=1e-12)
    assert P[0, 3, 2].tolist() == [1.0, 0.0, 0.0, 0.0]
    assert game.market.price(mu).item() == pytest.approx(p, abs=1e-12)


def four_rooms_reference(noise: float, kappa: float, start=(1, 1)):
    """The Four Rooms kernel rebuilt from ENVIRONMENTS.md: cells, P_move with noise, renewal."""
    doors = {(6, 3), (6, 9), (3, 6), (9, 6)}

    def wall(x, y):
        return x in (0, 12) or y in (0, 12) or ((x == 6 or y == 6) and (x, y) not in doors)

    cells = [(x, y) for y in range(13) for x in range(13) if not wall(x, y)]
    moves = [(0, 0), (-1, 0), (1, 0), (0, -1), (0, 1)]  # stay, left, right, up, down (y grows downwards)
    index = {c: i for i, c in enumerate(cells)}
    n = len(cells)
    P = np.zeros((n, 5, n))
    for i, (x, y) in enumerate(cells):
        for a in range(5):
            for k, (dx, dy) in enumerate(moves):  # the executed move: a w.p. 1 - noise, uniform w.p. noise
                prob = (1 - noise) * (k == a) + noise / 5
                j = i if wall(x + dx, y + dy) else index[(x + dx, y + dy)]
                P[i, a, j] += (1 - kappa) * prob
            P[i, a, index[start]] += kappa
    return cells, index, P


def test_four_rooms_layout_and_walls():
    game = make_game("four_rooms", noise=0.0, kappa=0.0)
    assert game.n_states == 104 and game.n_actions == 5 and game.is_nash
    coords = [tuple(c) for c in np64(game.state_coords).astype(int).tolist()]
    index = {c: i for i, c in enumerate(coords)}
    assert len(index) == 104
    for door in [(6, 3), (6, 9), (3, 6), (9, 6)]:
        assert door in index
    for wall in [(0, 0), (6, 2), (6, 6), (2, 6), (12, 5), (6, 10)]:
        assert wall not in index
    P = np64(game.transition_tensor(game.uniform_mean_field()))[:, :, 0]

    def dest(cell, action):
        row = P[index[cell], ["stay", "left", "right", "up", "down"].index(action)]
        assert row.max() == 1.0
        return coords[int(row.argmax())]

    assert dest((1, 1), "left") == (1, 1)
    assert dest((1, 1), "up") == (1, 1)
    assert dest((1, 1), "stay") == (1, 1)
    assert dest((1, 1), "right") == (2, 1)
    assert dest((1, 1), "down") == (1, 2)
    assert dest((5, 3), "right") == (6, 3)  # into the door
    assert dest((6, 3), "right") == (7, 3)  # through it
    assert dest((6, 3), "up") == (6, 3)  # the door's sides are walls
    assert dest((5, 2), "right") == (5, 2)  # the inner wall
    assert dest((3, 5), "down") == (3, 6)
    assert dest((11, 11), "down") == (11, 11)


def test_four_rooms_matches_the_reference_kernel_and_reward():
    noise, kappa, K = 0.1, 0.02, 1.5
    game = make_game("four_rooms", noise=noise, kappa=kappa, K=K, stay_bonus=0.2, move_penalty=-0.2)
    cells, index, P_ref = four_rooms_reference(noise, kappa)
    coords = [tuple(c) for c in np64(game.state_coords).astype(int).tolist()]
    order = [index[c] for c in coords]  # map the game's state order to the reference's
    P_ref = P_ref[np.ix_(order, range(5), order)]
    mu = random_mu(game, 4)
    np.testing.assert_allclose(np64(game.transition_tensor(mu))[:, :, 0], P_ref, atol=1e-14)
    rf = np64(game.reward_f_tensor(mu))[:, :, 0]
    expected = -K * np.log(np64(mu))[:, None] + np.array([0.2, -0.2, -0.2, -0.2, -0.2])[None, :]
    np.testing.assert_allclose(rf, expected, atol=1e-9)
    assert np64(game.reward_l_tensor(mu)).max() == 0.0 == np64(game.reward_l_tensor(mu)).min()
    rho = np64(game.rho)
    assert rho[coords.index((1, 1))] == 1.0 and rho.sum() == 1.0


@pytest.mark.parametrize("leader,w", [("sell_skew", (1.0, 0.0)), ("balanced", (0.5, 0.5)), ("fees_only", (0.0, 0.0))])
def test_market_entrance_matches_hand_formulas(leader, w):
    v_L, v_R, switch, fees, noise = 1.0, 1.2, 0.1, (0.0, 0.5, 1.0), 0.1
    game = make_game("market_entrance", v_L=v_L, v_R=v_R, switch_cost=switch, fees=fees, leader=leader, noise=noise)
    mu = torch.tensor([0.5, 0.2, 0.3], dtype=f64)  # out, L, R
    value = {0: 0.0, 1: v_L - 0.2, 2: v_R - 2 * 0.3}
    P, rf, rl = np64(game.transition_tensor(mu)), np64(game.reward_f_tensor(mu)), np64(game.reward_l_tensor(mu))
    for s in range(3):
        for a in range(3):
            for bi, fee in enumerate(fees):
                enters = a in (1, 2) and a != s
                r_f = value[s] - switch * (a != s) - fee * enters
                r_l = fee * enters + w[0] * 0.2 + w[1] * 0.3
                assert rf[s, a, bi] == pytest.approx(r_f, abs=1e-14), (s, a, fee)
                assert rl[s, a, bi] == pytest.approx(r_l, abs=1e-14), (s, a, fee)
                row = np.zeros(3)
                row[a] += 1 - noise
                row[s] += noise
                np.testing.assert_allclose(P[s, a, bi], row, atol=1e-15)


def test_shop_positioning_matches_hand_formulas():
    n, noise, revenue, crowd, move_cost, fees, spread, eps = 7, 0.2, 1.0, 0.5, 0.05, (0.0, 0.3), 4.0, 1e-6
    game = make_game("shop_positioning", n=n, noise=noise, revenue=revenue, crowd=crowd, move_cost=move_cost,
                     fees=fees, spread=spread, eps=eps)
    mu = random_mu(game, 5)
    m = np64(mu)
    c = (n - 1) / 2
    P, rf, rl = np64(game.transition_tensor(mu)), np64(game.reward_f_tensor(mu)), np64(game.reward_l_tensor(mu))
    for x in range(n):
        for a, move in enumerate((-1, 0, 1)):
            for bi, fee in enumerate(fees):
                r_f = revenue * (1 - abs(x - c) / c) - crowd * math.log(m[x] + eps) - move_cost * abs(move) - fee
                assert rf[x, a, bi] == pytest.approx(r_f, abs=1e-12)
                assert rl[x, a, bi] == pytest.approx(fee - spread * (m**2).sum(), abs=1e-12)
                row = np.zeros(n)
                row[min(max(x + move, 0), n - 1)] += 1 - noise
                row[x] += noise
                np.testing.assert_allclose(P[x, a, bi], row, atol=1e-15)


def test_congestion_toll_matches_hand_formulas():
    c0, c1, k, b_max, target, w, kappa = 0.1, 0.6, 1.5, 0.8, 0.3, 2.0, 0.2
    game = make_game("congestion_toll", c0=c0, c1=c1, k=k, b_max=b_max, target=target, w=w, kappa=kappa)
    mu = torch.tensor([0.35, 0.65], dtype=f64)
    rf, rl = np64(game.reward_f_tensor(mu))[0], np64(game.reward_l_tensor(mu))[0]
    for a in range(2):
        for bi, b in enumerate((0.0, b_max)):
            assert rf[a, bi] == pytest.approx((c0, c1)[a] - k * mu[a].item() - b * (a == 1), abs=1e-14)
            assert rl[a, bi] == pytest.approx(-w * (0.65 - target) ** 2 - kappa * b**2, abs=1e-14)
    assert np64(game.transition_tensor(mu)).reshape(-1).tolist() == [1.0] * 4


# ----- validation ----------------------------------------------------------------------------------


def test_unknown_game_lists_the_valid_names():
    with pytest.raises(GameDefinitionError) as info:
        make_game("nope")
    msg = str(info.value)
    assert "nope" in msg
    for name in GAMES:
        assert name in msg


def test_unknown_parameter_lists_the_valid_parameters():
    with pytest.raises(GameDefinitionError) as info:
        make_game("four_rooms", foo=1)
    msg = str(info.value)
    assert "foo" in msg
    params = game_parameters("deep_smfg.games.four_rooms.make_four_rooms")
    assert {"noise", "kappa", "K", "gamma", "tau"} <= set(params)
    for p in params:
        assert p in msg


def test_list_parameters_are_accepted_for_tuple_defaults():
    game = make_game("market_entrance", fees=[0.0, 0.7])
    assert game.n_leader_actions == 2
    assert np64(game.reward_l_tensor(torch.tensor([1.0, 0.0, 0.0], dtype=f64)))[0, 1, 1] == pytest.approx(0.7)


@pytest.mark.parametrize("gamma", [0.0, 1.0, 1.5, -0.2, float("nan")])
def test_gamma_outside_the_open_unit_interval_is_rejected(gamma):
    with pytest.raises(GameDefinitionError, match="gamma") as info:
        make_game("market_entrance", gamma=gamma)
    assert str(gamma) in str(info.value)


@pytest.mark.parametrize("tau", [0.0, -0.5, float("inf")])
def test_non_positive_tau_is_rejected(tau):
    with pytest.raises(GameDefinitionError, match="tau") as info:
        make_game("shop_positioning", tau=tau)
    assert str(tau) in str(info.value)


def tiny_game(**overrides):
    kw = dict(
        name="tiny", transition=torch.full((2, 2, 1, 2), 0.5, dtype=f64), reward_f=torch.zeros(2, 2, 1, dtype=f64),
        reward_l=torch.zeros(2, 2, 1, dtype=f64), rho=[0.5, 0.5], gamma=0.9, tau=1.0,
    )
    kw.update(overrides)
    return FiniteGame(**kw)


def test_tiny_game_is_valid():
    game = tiny_game()
    assert (game.n_states, game.n_actions, game.n_leader_actions, game.n_z) == (2, 2, 1, 2)


@pytest.mark.parametrize("rho,needle", [([0.5, 0.6], "1.1"), ([1.5, -0.5], "-0.5"), ([0.2, 0.2], "0.4")])
def test_rho_must_be_a_distribution(rho, needle):
    with pytest.raises(GameDefinitionError, match="rho") as info:
        tiny_game(rho=rho)
    assert needle in str(info.value)


def test_transition_rows_must_sum_to_one():
    P = torch.full((2, 2, 1, 2), 0.5, dtype=f64)
    P[1, 0, 0] = torch.tensor([0.3, 0.3])
    with pytest.raises(GameDefinitionError, match="transition") as info:
        tiny_game(transition=P)
    assert "0.6" in str(info.value)
    # a transition function of mu is checked at the uniform mean field too
    with pytest.raises(GameDefinitionError, match="0.6"):
        tiny_game(transition=lambda mu: P.to(mu))


INF, NAN = float("inf"), float("nan")


@pytest.mark.parametrize("row,needle", [([NAN, 1.0], "non-finite"), ([INF, -INF], "non-finite"),
                                       ([INF, 0.0], "non-finite"), ([1.5, -0.5], "-0.5"), ([0.7, 0.7], "1.4")])
def test_transition_rows_with_bad_entries_are_rejected(row, needle):
    """Each bad entry is named by its reductions (no mask as large as the tensor: check_distribution)."""
    P = torch.full((2, 2, 1, 2), 0.5, dtype=f64)
    P[0, 1, 0] = torch.tensor(row, dtype=f64)
    with pytest.raises(GameDefinitionError, match="transition") as info:
        tiny_game(transition=P)
    assert needle in str(info.value)


def test_empty_action_space_is_rejected():
    with pytest.raises(GameDefinitionError) as info:
        tiny_game(transition=torch.zeros(2, 0, 1, 2, dtype=f64), reward_f=torch.zeros(2, 0, 1),
                  reward_l=torch.zeros(2, 0, 1))
    assert "got 0" in str(info.value)
    with pytest.raises(GameDefinitionError) as info:
        make_game("shop_positioning", fees=())
    assert "got 0" in str(info.value)
    with pytest.raises(GameDefinitionError, match="fees"):
        make_game("market_entrance", fees=())
    with pytest.raises(GameDefinitionError) as info:
        make_game("equilibrium_pricing", q_max=-1)
    assert "got 0" in str(info.value)


def test_wrong_shapes_and_non_finite_rewards_are_rejected():
    with pytest.raises(GameDefinitionError, match=r"reward_f has shape \(2, 3, 1\)"):
        tiny_game(reward_f=torch.zeros(2, 3, 1))
    with pytest.raises(GameDefinitionError, match="non-finite"):
        tiny_game(reward_l=torch.tensor([[[0.0], [float("nan")]], [[0.0], [0.0]]]))
    with pytest.raises(GameDefinitionError, match="shape"):
        tiny_game(transition=torch.full((2, 2, 2), 0.5))


@pytest.mark.parametrize(
    "name,kw,needle",
    [
        ("equilibrium_pricing", {"leader": "foo"}, "'foo'"),
        ("market_entrance", {"leader": "bar"}, "'bar'"),
        ("market_entrance", {"noise": 1.5}, "1.5"),
        ("shop_positioning", {"noise": -0.1}, "-0.1"),
        ("four_rooms", {"kappa": 2.0}, "2.0"),
        ("four_rooms", {"start": (6, 6)}, "(6, 6)"),
        ("equilibrium_pricing", {"delivery_noise": 1.2}, "1.2"),
    ],
)
def test_invalid_game_parameters_name_the_offending_value(name, kw, needle):
    with pytest.raises(GameDefinitionError) as info:
        make_game(name, **kw)
    assert needle in str(info.value)


def test_draws_from_one_cdf_are_the_rowwise_draws_from_the_same_random_numbers():
    """The env's initial states (``draws_from_cdf``) are the draws ``sample_from_cdf`` makes on copies of the row,
    a leading outcome of probability 0 included."""
    from deep_smfg.games.base import draws_from_cdf, sample_from_cdf

    cdf = torch.tensor([0.0, 0.2, 0.2, 0.7, 1.0], dtype=torch.float64).cumsum(-1) / 2.1
    one = draws_from_cdf(cdf, 5000, torch.Generator().manual_seed(4))
    rows = sample_from_cdf(cdf.expand(5000, -1), torch.Generator().manual_seed(4))
    assert torch.equal(one, rows)
    assert set(one.tolist()) == {1, 2, 3, 4}  # never the leading outcome of probability 0
