"""The add-on's one error type for people: its message is one sentence shown in the UI."""

from .core.motion_file import MotionFileError
from .core.output import OutputError
from .core.request import RequestError


class AddonError(Exception):
    """Bad input or a failed job; str(error) is the whole message a user sees."""


# Everything the operators and the batch script report as a sentence instead of a traceback.
USER_ERRORS = (AddonError, MotionFileError, OutputError, RequestError)
