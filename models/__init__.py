"""Encoders: one interface (:class:`models.base.Encoder`) and a registry of builders.

>>> from models import create_encoder, list_encoders
"""

from models.base import Encoder, EncoderError
from models.registry import create_encoder, list_encoders, register_encoder

__all__ = ["Encoder", "EncoderError", "create_encoder", "list_encoders", "register_encoder"]
