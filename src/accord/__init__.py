"""Accord: multi-party deconfliction. Is anyone inside the hazard area of what we are about to
do?"""

from accord.errors import (
    AccordError,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    StorageError,
    VerificationError,
)

__all__ = [
    "AccordError",
    "Conflict",
    "Forbidden",
    "InvalidInput",
    "NotFound",
    "StorageError",
    "VerificationError",
    "__version__",
]

__version__ = "0.1.0"
