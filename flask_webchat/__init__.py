"""A drop-in chat room for Flask sites: model, schemas and exact message views."""

from ._version import __version__
from .errors import MessageRejected, WebchatError
from .extension import Webchat
from .identity import Identity, Viewer
from .state import WebchatState

__all__ = [
    "Identity",
    "MessageRejected",
    "Viewer",
    "Webchat",
    "WebchatError",
    "WebchatState",
    "__version__",
]
