"""EgoBody_Kinect dataset (HumanData format)."""
from data.EgoBody_Kinect.EgoBody_Kinect import EgoBody_Kinect

__all__ = ["EgoBody_Kinect"]
