"""The network's state dict equals the released checkpoint layout (SPEC §2.2) and parameter counts (§1.11)."""
from pathlib import Path

import pytest
import torch

from common.config import load_config
from common.model import build_model

# Copies of ../shared/reference/state_dict_{S,B,L,H}32.tsv (key names and shapes of the released checkpoints).
REF = Path(__file__).resolve().parent / 'data'

# SPEC §1.11, from the real instantiation of the original (README #Params).
PARAM_COUNTS = {
    's': dict(encoder=21_675_648, body_position_net=154_000, body_regressor=1_901_757, box_net=5_509_641,
              hand_roi_net=1_512_384, hand_position_net=123_200, hand_regressor=1_125_234,
              face_regressor=6_160, total=32_008_024),
    'b': dict(encoder=85_818_624, body_position_net=307_600, body_regressor=2_103_357, box_net=7_082_505,
              hand_roi_net=6_047_616, hand_position_net=246_080, hand_regressor=1_321_842,
              face_regressor=12_304, total=102_939_928),
    'l': dict(encoder=303_328_256, body_position_net=410_000, body_regressor=2_237_757, box_net=8_131_081,
              hand_roi_net=10_750_464, hand_position_net=328_000, hand_regressor=1_452_914,
              face_regressor=16_400, total=326_654_872),
    'h': dict(encoder=630_951_680, body_position_net=512_400, body_regressor=2_372_157, box_net=9_179_657,
              hand_roi_net=16_796_800, hand_position_net=409_920, hand_regressor=1_583_986,
              face_regressor=20_496, total=661_827_096),
}


def read_tsv(variant: str):
    path = REF / f'state_dict_{variant.upper()}32.tsv'
    rows = []
    for line in path.read_text().splitlines():
        if line.startswith('#') or not line.strip():
            continue
        name, shape, _dtype = line.split('\t')
        assert name.startswith('module.'), name
        rows.append((name[len('module.'):], shape))
    return rows


def build_meta(variant: str, tmp_path):
    cfg = load_config(f'config_smpler_x_{variant}32.py', {'human_model_path': str(tmp_path / 'absent')})
    with torch.device('meta'):
        return build_model(cfg, 'test')  # no body model files needed to build


@pytest.mark.parametrize('variant', ['s', 'b', 'l', 'h'])
def test_state_dict_matches_released_layout(variant, tmp_path):
    model = build_meta(variant, tmp_path)
    mine = [(k, str(tuple(v.shape))) for k, v in model.state_dict().items()]
    ref = read_tsv(variant)
    missing = sorted(set(ref) - set(mine))
    extra = sorted(set(mine) - set(ref))
    assert not missing and not extra, f'missing {missing[:10]} extra {extra[:10]}'
    assert mine == ref, 'same keys and shapes but a different order'
    assert not any('smplx' in k for k, _ in mine)


@pytest.mark.parametrize('variant', ['s', 'b', 'l', 'h'])
def test_parameter_counts(variant, tmp_path):
    model = build_meta(variant, tmp_path)
    counts = {n: sum(p.numel() for p in c.parameters()) for n, c in model.named_children()}
    counts['total'] = sum(p.numel() for p in model.parameters())
    assert counts == PARAM_COUNTS[variant]
