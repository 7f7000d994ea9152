"""caresearch: find 地域包括ケア case studies by keyword or by describing a local problem."""

__version__ = "0.1.0"

__all__ = ["__version__"]
