"""The ``fvp`` config switch: TRPO steps with the Hessian-of-KL and the Gauss-Newton Fisher-vector
products are the same step (the two products are the same matrix at theta_old)."""
import copy

import pytest
import torch

from trpo.algos.common import policy_objective
from trpo.algos.trust_region import trust_region_step
from trpo.config import Config
from trpo.nets.policies import CategoricalActor, GaussianActor, flat_params


@pytest.mark.parametrize("kind", ["gaussian", "categorical"])
def test_gauss_newton_and_hessian_give_the_same_trust_region_step(kind):
    torch.manual_seed(0)
    actor0 = GaussianActor(4, 2, (16,)) if kind == "gaussian" else CategoricalActor(4, 3, (16,))
    obs = torch.randn(256, 4)
    with torch.no_grad():
        old = actor0.dist_params(obs)
        actions = actor0.sample(old)
        logp_old = actor0.log_prob(old, actions)
    adv = torch.randn(256)
    steps = {}
    for fvp in ("hessian", "gauss-newton"):
        actor = copy.deepcopy(actor0)
        cfg = Config(fvp=fvp, cg_iters=10)
        stats, _ = trust_region_step(actor, lambda: policy_objective(actor, obs, actions, logp_old, adv, 0.0)[0],
                                     obs, old, cfg, line_search=True)
        assert stats["step_accepted"] == 1
        steps[fvp] = flat_params(actor) - flat_params(actor0)
    assert steps["hessian"].norm() > 0
    torch.testing.assert_close(steps["gauss-newton"], steps["hessian"], rtol=1e-3, atol=1e-5)
