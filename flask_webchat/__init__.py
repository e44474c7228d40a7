"""A drop-in chat room for Flask sites: model, schemas and exact message views."""

from .extension import Webchat, WebchatState
from .identity import Identity, Viewer

__version__ = "0.1.0"

__all__ = ["Identity", "Viewer", "Webchat", "WebchatState", "__version__"]
