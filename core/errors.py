"""Errors that carry a message meant for the user (shown without a stack trace)."""

from __future__ import annotations


class StylescopeError(Exception):
    """Base for every error whose message is written for the user."""


class BadInputError(StylescopeError):
    """The user's input (file, manifest row, argument) cannot be used."""


class VideoError(BadInputError):
    """A video file cannot be decoded or has no usable frames."""


class DataDirError(StylescopeError):
    """The data directory is missing, not a folder, or cannot be read or written."""


class CatalogError(StylescopeError):
    """The catalog is missing, locked, or from an incompatible schema."""


class StorageError(StylescopeError):
    """The data directory cannot take more writes: disk full, read-only, locked or damaged."""
