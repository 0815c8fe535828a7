"""Natural policy gradient (Kakade 2001; policy-gradients lecture notes §3.6.2; the TRPO reading-group
slides (Nguyen 2021) "Natural policy gradient").

    max_d  g^T d   s.t.  1/2 d^T F d <= delta
    => x = F^{-1} g (conjugate gradient on Fisher-vector products),
       beta = sqrt(2 delta / g^T F^{-1} g),   theta <- theta + beta x

This is TRPO's update without the line search (Spinning Up: "NPG is TRPO minus the line
search"): the same advantages, the same ``trust_region_step`` (``functional.natural_step``
computes beta), the full step always taken. The only difference is ``line_search = False``.
"""
from __future__ import annotations

from trpo.algos.trpo import TRPO


class NPG(TRPO):
    line_search = False
