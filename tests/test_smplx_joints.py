"""The joints-only SMPL-X of the data loader equals the full body-model wrapper."""
import numpy as np
import pytest
import torch

from common.utils.human_models import get_smplx
from data.smplx_joints import get_smplx_joints


@pytest.mark.parametrize("gender", ["neutral", "female"])
def test_joints_only_model_matches_full_layer(human_model_path, gender):
    g = torch.Generator().manual_seed(0)
    r = lambda n, s=0.3: torch.randn(4, n, generator=g) * s  # noqa: E731
    kw = dict(global_orient=r(3, 1.0), body_pose=r(63), left_hand_pose=r(45), right_hand_pose=r(45),
              jaw_pose=r(3), betas=r(10, 1.0), expression=r(10, 1.0), transl=r(3, 1.0))
    kw["body_pose"][:, 33:39] += 0.7  # turn neck and head: exercises the dynamic face contour
    full, fast = get_smplx(human_model_path, gender), get_smplx_joints(human_model_path, gender)
    assert fast.num_vertices_posed < 10475
    with torch.no_grad():
        a = full(**kw).joints.numpy()
        b = fast(**kw).joints.numpy()
        c = fast(**{k: v for k, v in kw.items() if k != "transl"}).joints.numpy()
    assert b.shape == (4, 144, 3)
    np.testing.assert_allclose(b, a, atol=1e-5)
    np.testing.assert_allclose(c + kw["transl"].numpy()[:, None], a, atol=1e-5)
