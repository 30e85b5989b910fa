"""PoseTrack dataset (HumanData format)."""
from data.PoseTrack.PoseTrack import PoseTrack

__all__ = ["PoseTrack"]
