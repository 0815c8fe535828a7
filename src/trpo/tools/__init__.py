"""The tools a user runs on runs: ``report`` (figure and page per env and algorithm), ``compare``
(algorithms x seeds on one env), ``plot`` (learning curves), ``tune`` (Optuna search over the
registry's spaces), ``export`` (ONNX / TorchScript), and ``curves``, the metrics reader and curve
resampler they share. Nothing below imports this package.
"""
