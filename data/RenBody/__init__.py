"""RenBody dataset (HumanData format)."""
from data.RenBody.RenBody import RenBody

__all__ = ["RenBody"]
