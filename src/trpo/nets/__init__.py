"""The networks and how they act.

``policies`` (actors and critics, the MLP and image trunks, ``plain_actor_class`` and
``plain_critic_layers``: the one fast-path rule), ``recurrent`` (GRU/LSTM actors and critics on
top of them), ``factory`` (``make_networks``: the networks a config asks for), ``normalize``
(observation normaliser, reward scaler) and ``policy_runner`` (acting from numpy observations: the
numpy fast path for plain actors, torch otherwise). Imports ``trpo.functional`` only.
"""
