"""tusk: build hybrid CoT/PoT math instruction data, instruction-tune on it, and evaluate (MAmmoTH, rebuilt).

The package does no work at import time; every heavy dependency is imported where it is used.
"""

__version__ = "0.1.0"
