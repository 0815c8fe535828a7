"""User-facing errors: the CLI prints their message on one line (no traceback)."""


class TrpoError(Exception):
    """A problem the user can fix; ``exit_code`` is what the CLI returns."""

    exit_code = 1


class ConfigError(TrpoError):
    """A bad configuration value, key, file or command-line argument."""

    exit_code = 2


class CheckpointError(TrpoError):
    """A missing, corrupt, truncated, tampered or unsafe checkpoint."""

    exit_code = 2


class EnvError(TrpoError):
    """An environment that cannot be made, is unsupported, or misbehaves."""

    exit_code = 2


class NonFiniteError(TrpoError):
    """A NaN or inf appeared; the message names where. Nothing bad was applied or saved."""

    exit_code = 1


class WorkerFailureError(TrpoError):
    """Remote rollout workers kept failing (``max_worker_failures`` in a row); the trainer saves a
    checkpoint of the last completed iteration before reporting it."""

    exit_code = 1
