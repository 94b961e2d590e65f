"""Typed errors. Each subclasses ValueError or TypeError so generic handlers keep working."""
from __future__ import annotations


class ImgadaptError(Exception):
    """Base class of every error raised on purpose by imgadapt."""


class InputShapeError(ImgadaptError, ValueError):
    """An array has the wrong number of dimensions or channels."""


class InputDtypeError(ImgadaptError, TypeError):
    """An array or argument has a type or dtype imgadapt does not accept."""


class InputValueError(ImgadaptError, ValueError):
    """An array holds NaN/inf or values outside the stated range."""


class InputSizeError(ImgadaptError, ValueError):
    """An array is empty or smaller than the model needs."""


class UnknownNameError(ImgadaptError, ValueError):
    """A model, pattern, task or option name is not known."""


class ModelIntegrityError(ImgadaptError, ValueError):
    """A model file is missing or does not match the checksum in its card."""


class ProviderError(ImgadaptError, RuntimeError):
    """A requested onnxruntime execution provider is not available."""


class UnsupportedRawError(ImgadaptError, ValueError):
    """A file is not a RAW image imgadapt can develop: not a format LibRaw reads, or a sensor that is
    not a 2x2 Bayer mosaic (X-Trans, four-colour, Foveon, already demosaiced)."""


class CorruptRawError(ImgadaptError, ValueError):
    """A RAW file is truncated or its data cannot be decoded."""


class WorkerError(ImgadaptError, RuntimeError):
    """A batch worker (process or Ray actor) could not start, so the batch cannot run."""


class ExportVerificationError(ImgadaptError, ValueError, RuntimeError):
    """An exported graph does not compute what the torch model computes, within the stated tolerance."""
