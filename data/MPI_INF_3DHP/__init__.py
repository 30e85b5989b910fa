"""MPI_INF_3DHP dataset (HumanData format)."""
from data.MPI_INF_3DHP.MPI_INF_3DHP import MPI_INF_3DHP

__all__ = ["MPI_INF_3DHP"]
