"""The seams written down (docs/architecture.md): registries, interfaces, layering, the fast-path rule."""
import ast
import re
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

from trpo.algos import ALGOS, get_learner
from trpo.algos.base import Learner
from trpo.algos.trust_region import written_out_fvp
from trpo.nets.policies import CategoricalActor, GaussianActor, MultiCategoricalActor, plain_actor_class
from trpo.nets.policy_runner import NumpyPolicy, TorchPolicy, make_policy
from trpo.rollout import SAMPLERS, get_sampler

SRC = Path(__file__).resolve().parents[1] / "src" / "trpo"


def _module(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module(f): f for f in SRC.rglob("*.py")}


def _known(name: str) -> str | None:
    """The package's module ``name`` is, or lives in ("trpo.rollout.batch.Batch" -> "trpo.rollout.batch")."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(path: Path) -> set[str]:
    """The package's modules ``path`` imports: every import statement, at module level, inside
    functions and under ``if TYPE_CHECKING``; ``from pkg import name`` is the module ``pkg.name``
    where that is a module (``from trpo import seeds`` -> trpo.seeds), else ``pkg`` itself;
    relative imports are resolved against the importing module's package."""
    me = _module(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    out = set()
    for n in ast.walk(ast.parse(path.read_text())):
        if isinstance(n, ast.Import):
            out |= {m for a in n.names if (m := _known(a.name))}
        elif isinstance(n, ast.ImportFrom):
            base = n.module or ""
            if n.level:
                pkg = package.rsplit(".", n.level - 1)[0] if n.level > 1 else package
                base = f"{pkg}.{base}" if base else pkg
            for a in n.names:
                m = _known(f"{base}.{a.name}") if f"{base}.{a.name}" in MODULES else _known(base)
                if m:
                    out.add(m)
    out.discard(me)
    return out


GRAPH = {name: _imports(f) for name, f in MODULES.items()}


def test_samplers_know_no_learner():
    for name, deps in GRAPH.items():
        if name.startswith("trpo.rollout"):
            bad = {m for m in deps if m.startswith(("trpo.algos", "trpo.agent"))}
            assert not bad, f"{name} imports {bad}"


def test_no_import_cycles_counting_every_import():
    """No cycle in the package's import graph, with the imports inside functions counted: every
    module can be read (and imported) with only what is below it."""
    state: dict[str, int] = {}

    def visit(n, stack):
        state[n] = 1
        for d in sorted(GRAPH.get(n, ())):
            if state.get(d) == 1:
                path = stack + [n]
                raise AssertionError("import cycle: " + " -> ".join(path[path.index(d):] + [d]))
            if d not in state:
                visit(d, stack + [n])
        state[n] = 2

    for n in sorted(GRAPH):
        if n not in state:
            visit(n, [])


def test_the_resolution_of_imports():
    """The graph the cycle test walks sees through packages and into functions."""
    assert "trpo.seeds" in GRAPH["trpo.trainer"] and "trpo" not in GRAPH["trpo.trainer"]
    assert "trpo.algos.build" in GRAPH["trpo.trainer"]
    assert "trpo.nets.recurrent" in GRAPH["trpo.nets.factory"]   # module level
    assert "trpo.trainer" in GRAPH["trpo"]                       # inside train()
    assert "trpo.theory.bounds" in GRAPH["trpo.theory.check"]    # from . import bounds


# --- the rooms and what each may import (docs/architecture.md) ---------------------------------------
ROOMS = {
    "trpo.functional": ("trpo.functional",),                              # pure torch math
    "trpo.nets": ("trpo.nets", "trpo.functional"),                         # networks, acting
    "trpo.envs": ("trpo.envs", "trpo.errors", "trpo.system"),              # environments
    "trpo.theory": ("trpo.theory",),                                       # exact tabular MDPs
}


@pytest.mark.parametrize("room", sorted(ROOMS))
def test_a_room_imports_only_what_is_below_it(room):
    allowed = ROOMS[room]
    for name, deps in GRAPH.items():
        if name == room or name.startswith(room + "."):
            bad = {m for m in deps if not any(m == a or m.startswith(a + ".") for a in allowed)}
            assert not bad, f"{name} imports {sorted(bad)}"


def test_the_algorithm_registry_imports_nothing_of_the_package():
    """``trpo.algos`` (the registry) is read by config, resolve, tune, report and the diagnostics:
    it imports nothing of the package, learners are named by string and imported lazily."""
    text = (SRC / "algos" / "__init__.py").read_text()
    names = set()
    for n in ast.walk(ast.parse(text)):
        if isinstance(n, ast.Import):
            names |= {a.name for a in n.names}
        elif isinstance(n, ast.ImportFrom):
            names.add("." * n.level + (n.module or ""))
    assert not {m for m in names if m.startswith(("trpo", "."))}, names
    assert GRAPH["trpo.algos"] == set()


def test_nothing_below_the_tools_imports_them():
    for name, deps in GRAPH.items():
        if not name.startswith(("trpo.tools", "trpo.cli")):
            assert not {m for m in deps if m.startswith("trpo.tools")}, name


def test_one_version():
    import tomllib

    import trpo
    from trpo._version import __version__

    pyproject = tomllib.loads((SRC.parents[1] / "pyproject.toml").read_text())
    assert trpo.__version__ == __version__ == pyproject["project"]["version"]


def test_the_trainer_names_no_algorithm_or_sampler_and_probes_nothing():
    text = (SRC / "trainer.py").read_text()
    code = "\n".join(line.split("#")[0] for line in text.splitlines())
    assert "hasattr" not in code
    for name in [*ALGOS, *SAMPLERS]:
        assert not re.search(rf"[\"']{re.escape(name)}[\"']", code), name


def test_every_registered_learner_and_sampler_has_the_interface():
    for name in ALGOS:
        cls = get_learner(name)
        for m in ("update", "sync", "close", "state_dict", "load_state_dict"):
            assert callable(getattr(cls, m, None)), (name, m)
        assert hasattr(cls, "rollout_fn")
    for name in SAMPLERS:
        if name == "ray":
            pytest.importorskip("ray")
        try:
            cls = get_sampler(name)
        except ImportError:
            continue  # a sampler file another change has not landed yet
        for m in ("build", "collect", "state_dict", "load_state_dict", "close", "summary"):
            assert callable(getattr(cls, m, None)), (name, m)


def test_learners_satisfy_the_protocol():
    from trpo.config import Config
    from trpo.nets.policies import Critic

    for name in ("trpo", "ppo", "reinforce", "pg-l2"):
        cfg = Config(algo=name, lr=ALGOS[name].default_lr)  # resolved, as resolve_run does
        learner = get_learner(name)(CategoricalActor(3, 2, (8,)), Critic(3, (8,)), cfg, torch.device("cpu"))
        assert isinstance(learner, Learner)
        learner.close()


# --- one fast-path rule, by type ----------------------------------------------------------------------
class PassThroughGaussian(GaussianActor):
    note = "adds nothing to the distribution"


class ShiftedGaussian(GaussianActor):
    def dist_params(self, obs):
        mu, log_std = super().dist_params(obs)
        return mu + 1.0, log_std


class PassThroughCategorical(CategoricalActor):
    pass


class TemperedCategorical(CategoricalActor):
    def dist_params(self, obs):
        return (self.net(obs) / 0.5,)


class PassThroughMulti(MultiCategoricalActor):
    pass


class ReversedMulti(MultiCategoricalActor):
    def mode(self, params):
        return super().mode(params).flip(-1)


CASES = [
    (lambda: PassThroughGaussian(3, 2, (8,)), GaussianActor),
    (lambda: ShiftedGaussian(3, 2, (8,)), None),
    (lambda: PassThroughCategorical(3, 4, (8,)), CategoricalActor),
    (lambda: TemperedCategorical(3, 4, (8,)), None),
    (lambda: PassThroughMulti(3, [3, 2], (8,)), MultiCategoricalActor),
    (lambda: ReversedMulti(3, [3, 3], (8,)), None),
]


@pytest.mark.parametrize("make, expected", CASES)
def test_a_user_subclass_takes_the_fast_path_correctly_or_falls_back(make, expected):
    torch.manual_seed(0)
    actor = make()
    assert plain_actor_class(actor) is expected
    policy = make_policy(actor, torch.device("cpu"))
    assert isinstance(policy, NumpyPolicy if expected else TorchPolicy)
    obs = np.random.default_rng(0).standard_normal((64, 3)).astype(np.float32)
    # deterministic actions: whatever path is taken, they are the actor's own mode
    with torch.no_grad():
        want = actor.mode(actor.dist_params(torch.as_tensor(obs))).numpy()
    got = policy.act(obs, np.random.default_rng(1), deterministic=True)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    # the Fisher product: the written-out form only for plain actors; equal to the autograd
    # Gauss-Newton form where it is used
    o = torch.as_tensor(obs)
    with torch.no_grad():
        old = tuple(p.detach() for p in actor.dist_params(o))
    fvp = written_out_fvp(actor, o, old, 0.1)
    assert (fvp is not None) == (expected is not None)
    if fvp is not None:
        from trpo.functional.fisher import gauss_newton_fvp

        ref = gauss_newton_fvp(lambda: actor.dist_params(o), actor.kl, old, list(actor.parameters()), 0.1)
        v = torch.randn(sum(p.numel() for p in actor.parameters()))
        torch.testing.assert_close(fvp(v), ref(v), rtol=1e-4, atol=1e-6)


def test_stochastic_numpy_sampling_follows_the_actors_distribution():
    """Plain actors sampled in numpy: the sample mean/frequencies match the torch distribution."""
    torch.manual_seed(0)
    obs = np.zeros((20_000, 3), np.float32)
    g = PassThroughGaussian(3, 2, (8,))
    a = make_policy(g, torch.device("cpu")).act(obs, np.random.default_rng(0))
    mu, log_std = (t[0].detach().numpy() for t in g.dist_params(torch.zeros(1, 3)))
    np.testing.assert_allclose(a.mean(0), mu, atol=0.03)
    np.testing.assert_allclose(a.std(0), np.exp(log_std), rtol=0.03)
    c = PassThroughCategorical(3, 4, (8,))
    a = make_policy(c, torch.device("cpu")).act(obs, np.random.default_rng(0))
    p = torch.softmax(c.dist_params(torch.zeros(1, 3))[0], -1)[0].detach().numpy()
    np.testing.assert_allclose(np.bincount(a, minlength=4) / len(a), p, atol=0.015)


def test_action_spaces_map_to_the_built_in_heads():
    from trpo.nets.policies import make_actor

    box = gym.spaces.Box(-1, 1, (3,), np.float32)
    assert plain_actor_class(make_actor(box, gym.spaces.Discrete(2), (8,))) is CategoricalActor
    assert plain_actor_class(make_actor(box, gym.spaces.Box(-1, 1, (2,)), (8,))) is GaussianActor
    assert plain_actor_class(make_actor(box, gym.spaces.MultiDiscrete([2, 3]), (8,))) is MultiCategoricalActor


@pytest.mark.parametrize("activation", ["tanh", "relu", "elu", "gelu", "silu"])
def test_numpy_acting_equals_torch_acting_for_every_activation(activation):
    """Every activation a config may name keeps numpy acting (the one rule recognises it), and
    numpy's forward pass is torch's: the head outputs agree to float64 rounding, deterministic
    actions exactly; an activation the table lacks acts in torch."""
    from trpo.nets.policies import plain_mlp

    torch.manual_seed(0)
    obs = (3.0 * np.random.default_rng(0).standard_normal((128, 3))).astype(np.float32)
    for actor in (GaussianActor(3, 2, (8, 8), activation=activation),
                  CategoricalActor(3, 4, (8, 8), activation=activation),
                  MultiCategoricalActor(3, [3, 2], (8,), activation=activation)):
        with torch.no_grad():
            actor.net[-1].weight.mul_(100.0)  # outputs of order one, not 0.01
        assert plain_mlp(actor.net)[1] == activation
        policy = make_policy(actor, torch.device("cpu"))
        assert isinstance(policy, NumpyPolicy)
        with torch.no_grad():
            ref = actor.double().net(torch.as_tensor(obs, dtype=torch.float64)).numpy()
        np.testing.assert_allclose(policy._out(obs), ref, rtol=1e-12, atol=1e-12)
        with torch.no_grad():
            want = actor.mode(actor.dist_params(torch.as_tensor(obs, dtype=torch.float64))).numpy()
        got = policy.act(obs, np.random.default_rng(1), deterministic=True)
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    other = CategoricalActor(3, 4, (8,))
    other.net[1] = torch.nn.Softplus()
    assert plain_actor_class(other) is None and isinstance(make_policy(other, torch.device("cpu")), TorchPolicy)


def test_the_activation_tables_agree():
    """The modules a config may name, their numpy forwards and the written-out derivatives: one
    set of names, the config's choices."""
    from trpo.config import CHOICES
    from trpo.functional.mlp import ACTIVATIONS as DERIVATIVES
    from trpo.nets.policies import ACTIVATIONS

    assert set(ACTIVATIONS) == set(DERIVATIVES) == set(CHOICES["activation"])
