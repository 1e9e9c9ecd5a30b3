"""Test harness around a real Label Studio: install it, start it, and act as its users.

Importable without pytest, so ``lsqa demo`` can reuse it. Facts it relies on are in
``/work/shared/label-studio-notes.md``.
"""

from ._http import LabelStudioHTTPError
from .annotator import Annotator
from .capture import CapturedRequest, WebhookCapture
from .install import default_cache_dir, ensure_label_studio
from .server import LabelStudioServer, ServerStartError, is_prepared, prepare_label_studio

__all__ = [
    "Annotator",
    "CapturedRequest",
    "LabelStudioHTTPError",
    "LabelStudioServer",
    "ServerStartError",
    "WebhookCapture",
    "default_cache_dir",
    "ensure_label_studio",
    "is_prepared",
    "prepare_label_studio",
]
