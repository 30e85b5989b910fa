"""CrowdPose dataset (HumanData format)."""
from data.CrowdPose.CrowdPose import CrowdPose

__all__ = ["CrowdPose"]
