"""MPI_INF_3DHP: a HumanData-format training set of the SMPLer-X mix (SPEC §3.4, §4.1).

Annotations: ``{data_dir}/preprocessed_datasets/mpi_inf_3dhp_{train,test}.npz`` (override with the config key
``humandata_files = {'MPI_INF_3DHP': {'train': [...]}}``); images: ``{data_dir}/MPI_INF_3DHP/`` + ``image_path``.
Sub-sampling: config key ``MPI_INF_3DHP_train_sample_interval`` / ``MPI_INF_3DHP_test_sample_interval``.
"""
from data.humandata import HumanData

__all__ = ["MPI_INF_3DHP"]


class MPI_INF_3DHP(HumanData):
    """MPI_INF_3DHP (HumanData). Keypoints from the file; no fixed intrinsics."""

    train_files = ("mpi_inf_3dhp_train.npz",)
    test_files = ("mpi_inf_3dhp_test.npz",)
