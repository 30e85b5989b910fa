"""RenBody_HiRes dataset (HumanData format)."""
from data.RenBody_HiRes.RenBody_HiRes import RenBody_HiRes

__all__ = ["RenBody_HiRes"]
