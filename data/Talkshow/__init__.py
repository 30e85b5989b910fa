"""Talkshow dataset (HumanData format)."""
from data.Talkshow.Talkshow import Talkshow

__all__ = ["Talkshow"]
