"""Errors whose message is one sentence a person can act on (no traceback shown)."""


class UserError(Exception):
    """Base: the CLI and the worker print ``str(err)`` and nothing else."""

    kind = "internal"


class AudioError(UserError):
    kind = "audio"


class WeightsError(UserError):
    kind = "weights"


class DeviceError(UserError):
    """The device asked for is not usable; the add-on words it as its Device preference."""

    kind = "device"


class Cancelled(UserError):
    kind = "cancelled"

    def __init__(self, message: str = "Generation was cancelled; nothing was written.") -> None:
        super().__init__(message)
