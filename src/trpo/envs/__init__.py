"""Environments: what the samplers step and nothing else of the package.

``ids`` (env ids: lookup, families, the package's own ids), ``make`` (one env, a vector env,
``EnvSpec``, the env checks), ``envpool_env`` (EnvPool's pools as a Gymnasium vector env),
``vector_cartpole`` (CartPole stepped as arrays), ``snapshot`` (an env's full state, for vine
and exact resume), ``pomdp`` (the partially observed envs the package registers). This package
imports only ``trpo.errors`` and ``trpo.system`` besides itself.
"""
