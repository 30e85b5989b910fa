"""Visualisation: mesh painting and overlays."""
from common.vis.raster import project_points, render_mesh_opencv

__all__ = ['render_mesh_opencv', 'project_points']
