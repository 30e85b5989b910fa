"""OCHuman dataset (HumanData format)."""
from data.OCHuman.OCHuman import OCHuman

__all__ = ["OCHuman"]
