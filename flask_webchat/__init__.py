"""A drop-in chat room for Flask sites: model, schemas and exact message views."""

from .extension import Webchat
from .identity import Identity, Viewer
from .state import WebchatState

__version__ = "0.1.0"

__all__ = ["Identity", "Viewer", "Webchat", "WebchatState", "__version__"]
