"""EgoBody_Egocentric dataset (HumanData format)."""
from data.EgoBody_Egocentric.EgoBody_Egocentric import EgoBody_Egocentric

__all__ = ["EgoBody_Egocentric"]
