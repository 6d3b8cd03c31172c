"""CPXM: Customer & Patient Experience Management for life sciences."""

__version__ = "0.1.0"
