"""ONNX export and the onnxruntime backend (issue #16): the exported graph gives the PyTorch fp32 outputs.

Models: the S32 and B32 configs at their real widths and head counts with the encoder cut to 2 blocks (exporting
the real 12-block encoders takes minutes on the 2-core CI machine; the heads, where every special op lives, are
the real ones). Random weights made non-degenerate: randomised BatchNorm statistics and affine parameters,
heat-map logits scaled up so soft-argmaxes spread over the grid, and hand-box sizes chosen so that RoI-Align
samples 1 point per bin for the left hand and 2 for the right (checked on the torch reference).

The exported files are cached in ``$SMPLERX_TEST_CACHE`` (as the other generated assets), keyed by a hash of
every source that shapes the graph or the test weights and of the library versions: a stale cache can only make these tests fail,
never pass, because the reference outputs always come from the current torch model.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import source_hash

ROOT = Path(__file__).resolve().parents[1]
DEPTH = 2
ARCHS = {'S32': 'config_smpler_x_s32', 'B32': 'config_smpler_x_b32'}
LHAND_SIZE, RHAND_SIZE = 1.5, 3.0  # body-heatmap cells -> RoI of 12 and 24 cells of the 64x48 map: 1 and 2 points


def _tolerance_ok(ref: np.ndarray, got: np.ndarray) -> tuple[bool, float]:
    """Per element |got - ref| <= 1e-3 + 1e-5 |ref|; returns (ok, worst excess ratio)."""
    bound = 1e-3 + 1e-5 * np.abs(ref)
    ratio = np.abs(got.astype(np.float64) - ref.astype(np.float64)) / bound
    return bool(np.all(ratio <= 1.0)), float(ratio.max())


def make_non_degenerate(model, seed: int = 0) -> None:
    """Random weights whose every op does real work (see the module docstring)."""
    import torch
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                n = m.num_features
                m.running_mean.copy_(torch.randn(n, generator=g) * 0.2)
                m.running_var.copy_(torch.rand(n, generator=g) * 1.5 + 0.5)
                m.weight.copy_(torch.rand(n, generator=g) + 0.5)
                m.bias.copy_(torch.randn(n, generator=g) * 0.1)
        # sharper heat maps: soft-argmaxes away from the grid centre
        for conv in (model.body_position_net.conv[0], model.hand_position_net.conv[0], model.box_net.bbox_center[0]):
            conv.weight.mul_(40.0)
        # hand boxes of a few cells: left 1.5, right 3 body-heatmap cells (after restore_bbox: 48 and 96 px)
        for head, size in ((model.box_net.lhand_size, LHAND_SIZE), (model.box_net.rhand_size, RHAND_SIZE),
                           (model.box_net.face_size, 2.0)):
            head[-1].weight.mul_(0.01)
            head[-1].bias.fill_(size)


def build_test_model(cfg):
    import torch
    from common.model import build_model
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    make_non_degenerate(model)
    return model


def _graph_sources() -> list[Path]:
    files = list((ROOT / 'common' / 'nets').glob('*.py'))
    files += [ROOT / 'common' / 'deploy' / 'export.py', ROOT / 'common' / 'deploy' / 'metadata.py']
    files += [ROOT / 'common' / 'model.py', ROOT / 'common' / 'utils' / 'rotation.py',
              ROOT / 'common' / 'utils' / 'camera.py', ROOT / 'common' / 'utils' / 'precision.py']
    files += [ROOT / 'main' / 'config' / f'{c}.py' for c in ARCHS.values()]
    files += sorted((ROOT / 'main' / 'config' / '_base_').glob('*.py'))
    return files


def _weights_recipe() -> str:
    """What the test weights depend on in this file (so editing the tests elsewhere keeps the cache)."""
    import inspect
    return (inspect.getsource(make_non_degenerate) + inspect.getsource(build_test_model)
            + repr((DEPTH, ARCHS, LHAND_SIZE, RHAND_SIZE)))


def _versions() -> str:
    import onnx
    import onnxscript
    import roma
    import timm
    import torch
    import torchvision
    return '-'.join(m.__version__ for m in (torch, torchvision, onnx, onnxscript, timm, roma))


def _onnx_cfg(arch: str, human_model_path):
    from common.config import load_config
    return load_config(f'{ARCHS[arch]}.py', {'encoder.depth': DEPTH, 'human_model_path': str(human_model_path)})


@pytest.fixture(scope='session')
def onnx_cfgs(human_model_path):
    return {arch: _onnx_cfg(arch, human_model_path) for arch in ARCHS}


def _export_test_file(arch: str, precision: str, path: Path, human_model_path) -> None:
    """One test export (run in a worker process: tracing is single-threaded Python, so exports run side by side)."""
    from common.deploy.export import export_onnx
    cfg = _onnx_cfg(arch, human_model_path)
    export_onnx(build_test_model(cfg), cfg, path, precision=precision, dynamic_batch=True, weights='random')


@pytest.fixture(scope='session')
def onnx_files(onnx_cfgs, synthetic_root, human_model_path):
    """{arch: exported .onnx path} (dynamic batch, fp32), 'S32_fp16' (the S32 network exported in fp16), and the
    S32 weights as a checkpoint ('S32_ckpt')."""
    import hashlib
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from filelock import FileLock

    from common.checkpoint import save_checkpoint
    key = hashlib.sha1((source_hash(*_graph_sources()) + _weights_recipe() + _versions()).encode()).hexdigest()[:12]
    out = synthetic_root / f'onnx_{key}'
    jobs = {arch: (arch, 'fp32', out / f'{arch}.onnx') for arch in ARCHS}
    jobs['S32_fp16'] = ('S32', 'fp16', out / 'S32_fp16.onnx')
    with FileLock(str(out) + '.lock'):
        out.mkdir(exist_ok=True)
        todo = [job for job in jobs.values() if not job[2].is_file()]
        if todo:
            with ProcessPoolExecutor(len(todo), mp_context=multiprocessing.get_context('spawn')) as pool:
                for done in [pool.submit(_export_test_file, *job, human_model_path) for job in todo]:
                    done.result()
        ckpt = out / 'S32.pth.tar'
        if not ckpt.is_file():
            save_checkpoint(ckpt, build_test_model(onnx_cfgs['S32']))
    return {**{name: job[2] for name, job in jobs.items()}, 'S32_ckpt': ckpt}


@pytest.fixture(scope='session')
def crops8():
    """8 person-like crops: (8, 512, 384, 3) float32 RGB [0, 255] (smooth random blobs, not white noise)."""
    import cv2
    rng = np.random.default_rng(0)
    small = rng.uniform(0, 255, (8, 16, 12, 3)).astype(np.float32)
    return np.stack([cv2.resize(s, (384, 512), interpolation=cv2.INTER_CUBIC) for s in small]).clip(0, 255)


# ---------------------------------------------------------------------------------------------- op semantics
def _run_single_node(node, inputs: dict, outputs: list[str], opset: int = 18):
    import onnxruntime as ort
    from onnx import TensorProto, helper
    graph = helper.make_graph([node], 'op', [helper.make_tensor_value_info(
        k, TensorProto.FLOAT if v.dtype == np.float32 else TensorProto.INT64, v.shape) for k, v in inputs.items()],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', opset)], ir_version=9)
    sess = ort.InferenceSession(model.SerializeToString(), providers=['CPUExecutionProvider'])
    return sess.run(outputs, inputs)


def test_roi_align_matches_torchvision_adaptive_sampling():
    """ONNX RoiAlign(output_half_pixel, sampling_ratio=0) == torchvision roi_align(aligned=False, sampling_ratio=0):
    boxes 1, 2 and 3 sampling points per bin high/wide (ceil(roi / 16)), partly outside the map, and tiny."""
    import torch
    from onnx import helper
    from torchvision.ops import roi_align
    rng = np.random.default_rng(1)
    feat = rng.standard_normal((2, 5, 64, 48)).astype(np.float32)
    boxes = np.array([[0, 3.3, 4.1, 15.0, 17.7],     # 11.7 x 13.6 cells: 1 point per bin
                      [1, 10.2, 6.6, 31.9, 35.1],    # 21.7 x 28.5: 2 points
                      [0, 1.0, 2.0, 40.5, 50.0],     # 39.5 x 48: 3 points
                      [1, -6.0, 50.0, 12.0, 70.0],   # partly outside
                      [0, 20.0, 20.0, 20.4, 20.3]], np.float32)  # smaller than one cell (clamped to 1)
    ref = roi_align(torch.from_numpy(feat), torch.from_numpy(boxes), (16, 16), spatial_scale=1.0, sampling_ratio=0,
                    aligned=False).numpy()
    node = helper.make_node('RoiAlign', ['x', 'rois', 'idx'], ['y'], coordinate_transformation_mode='output_half_pixel',
                            mode='avg', output_height=16, output_width=16, sampling_ratio=0, spatial_scale=1.0)
    got, = _run_single_node(node, {'x': feat, 'rois': boxes[:, 1:].copy(), 'idx': boxes[:, 0].astype(np.int64)},
                            ['y'])
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)
    # the same boxes with a fixed single point per bin differ: the adaptive count really is 2 and 3 there
    fixed = roi_align(torch.from_numpy(feat), torch.from_numpy(boxes), (16, 16), 1.0, 1, False).numpy()
    assert np.allclose(fixed[0], ref[0], atol=1e-6) and not np.allclose(fixed[1], ref[1], atol=1e-3)
    # 'half_pixel' (aligned=True) would not match
    node_hp = helper.make_node('RoiAlign', ['x', 'rois', 'idx'], ['y'], coordinate_transformation_mode='half_pixel',
                               output_height=16, output_width=16, sampling_ratio=0, spatial_scale=1.0)
    got_hp, = _run_single_node(node_hp, {'x': feat, 'rois': boxes[:, 1:].copy(),
                                         'idx': boxes[:, 0].astype(np.int64)}, ['y'])
    assert not np.allclose(got_hp, ref, atol=1e-3)


def test_nearest_resize_and_grid_sample_match_torch():
    """Resize(nearest, asymmetric, floor) == F.interpolate(nearest) 512x384 -> 256x192; GridSample(align_corners)
    == F.grid_sample(bilinear, zeros, align_corners=True), points inside and outside the map."""
    import torch
    import torch.nn.functional as F
    from onnx import helper
    rng = np.random.default_rng(2)
    img = rng.random((2, 3, 512, 384), np.float32)
    ref = F.interpolate(torch.from_numpy(img), size=(256, 192), mode='nearest').numpy()
    node = helper.make_node('Resize', ['x', '', '', 'sizes'], ['y'], mode='nearest',
                            coordinate_transformation_mode='asymmetric', nearest_mode='floor')
    got, = _run_single_node(node, {'x': img, 'sizes': np.array([2, 3, 256, 192], np.int64)}, ['y'])
    np.testing.assert_array_equal(got, ref)
    feat = rng.standard_normal((2, 4, 16, 12)).astype(np.float32)
    grid = rng.uniform(-1.2, 1.2, (2, 7, 1, 2)).astype(np.float32)
    ref = F.grid_sample(torch.from_numpy(feat), torch.from_numpy(grid), mode='bilinear', padding_mode='zeros',
                        align_corners=True).numpy()
    node = helper.make_node('GridSample', ['x', 'g'], ['y'], align_corners=1, mode='linear', padding_mode='zeros')
    got, = _run_single_node(node, {'x': feat, 'g': grid}, ['y'], opset=20)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------------------------- the exported graph
def test_exported_file_ops_and_metadata(onnx_files, onnx_cfgs):
    import onnx

    from common.deploy.metadata import NETWORK_OUTPUTS, read_metadata
    for arch, cfg in onnx_cfgs.items():
        model = onnx.load(str(onnx_files[arch]))
        onnx.checker.check_model(model)
        ops = {n.op_type: n for n in model.graph.node}
        roi = {a.name: onnx.helper.get_attribute_value(a) for a in ops['RoiAlign'].attribute}
        assert roi['coordinate_transformation_mode'] == b'output_half_pixel' and roi['sampling_ratio'] == 0
        assert roi['output_height'] == roi['output_width'] == 16 and roi.get('mode', b'avg') == b'avg'
        resize = {a.name: onnx.helper.get_attribute_value(a) for a in ops['Resize'].attribute}
        assert resize['mode'] == b'nearest' and resize['nearest_mode'] == b'floor'
        assert 'GridSample' in ops
        assert [o.name for o in model.graph.output] == [n for n, _ in NETWORK_OUTPUTS]
        assert [i.name for i in model.graph.input] == ['img']
        meta = read_metadata(onnx_files[arch])
        assert meta['smplerx.variant'] == ARCHS[arch]
        assert json.loads(meta['smplerx.architecture'])['feat_dim'] == cfg.feat_dim
        assert json.loads(meta['smplerx.input'])['shape'] == ['batch', 3, 512, 384]
        assert meta['smplerx.smplx_layer'].startswith('not included') and meta['smplerx.precision'] == 'fp32'
        assert int(meta['smplerx.opset']) == next(o.version for o in model.opset_import if o.domain == '')
        # no SMPL-X data inside: no initializer has the body model's 10475 vertices
        assert not any(10475 in tuple(t.dims) for t in model.graph.initializer)


@pytest.mark.parametrize('arch', list(ARCHS))
def test_onnxruntime_equals_torch_fp32(arch, onnx_files, onnx_cfgs, crops8, human_model_path):
    """Every output (the 12 graph outputs, and mesh/joints after the body model) within 1e-3 + 1e-5|ref|, batch 1
    and 8, against the torch backend's model (CPU fast paths on); the random weights exercise both RoI-Align
    sampling counts and off-centre soft-argmaxes. (``OrtEstimator.__call__`` is covered end to end below.)"""
    import torch

    from common.deploy.runtime import OrtEstimator, apply_body_model
    from common.utils.human_models import get_smplx
    cfg = onnx_cfgs[arch]
    model = build_test_model(cfg)
    body = get_smplx(str(human_model_path))
    ort_est = OrtEstimator(onnx_files[arch], cfg, body, torch.device('cpu'))
    for batch in (1, 8):
        img = crops8[:batch].transpose(0, 3, 1, 2) / np.float32(255)
        net = ort_est.run_network(img)
        mesh, joints = apply_body_model(body, {k: torch.from_numpy(v) for k, v in net.items()})
        got = {**net, 'smplx_mesh_cam': mesh.numpy(), 'smplx_joint_cam': joints.numpy()}
        with torch.inference_mode():
            ref_all = model({'img': torch.from_numpy(img.copy())}, {}, {}, 'test')
        for key, value in got.items():
            ok, worst = _tolerance_ok(ref_all[key].numpy(), value)
            assert ok, f'{arch} batch {batch} {key}: |delta| up to {worst:.2f}x the tolerance'
    # the weights are not degenerate: RoI sizes give 1 (left) and 2 (right) sampling points per bin ...
    to_cells = torch.tensor(cfg.input_body_shape[0] / cfg.input_img_shape[0] * cfg.upscale / 16)
    for key, points in (('lhand_bbox', 1), ('rhand_bbox', 2)):
        box = ref_all[key] * to_cells  # crop px -> 64x48 RoI-map cells
        per_bin = np.ceil(((box[:, 2:] - box[:, :2]) / 16).numpy())
        assert (per_bin == points).all(), f'{key}: {per_bin.tolist()} sampling points per bin, wanted {points}'
    # ... and the soft-argmaxes spread over the grid, not all at its centre
    joints = ref_all['joint_img'][:, :25, :2]
    assert float(joints.std(dim=1).min()) > 0.5, joints.std(dim=1)


def test_fp16_export_is_as_close_to_fp32_as_torch_fp16(onnx_files, onnx_cfgs, crops8, caplog):
    """--precision fp16: the file stores its weights in fp16 (half the size), float32 input and outputs; every
    output is as close to the fp32 network as torch's own fp16 autocast is (max |delta| per output within 3x torch
    fp16's, plus 1e-4 of the output's scale), at batch 1 and 2 through the dynamic batch."""
    import onnx
    import torch

    from common.deploy.metadata import read_metadata
    from common.deploy.runtime import OrtEstimator
    path = onnx_files['S32_fp16']
    model = onnx.load(str(path))
    sizes = {}  # weight elements per data type (the fp32 rest: token/position embeddings added before autocast)
    for t in model.graph.initializer:
        sizes[t.data_type] = sizes.get(t.data_type, 0) + int(np.prod(t.dims))
    assert sizes.get(onnx.TensorProto.FLOAT16, 0) >= 0.95 * sum(sizes.values()), sizes
    assert path.stat().st_size < 0.6 * onnx_files['S32'].stat().st_size
    assert [i.type.tensor_type.elem_type for i in model.graph.input] == [onnx.TensorProto.FLOAT]
    assert {o.type.tensor_type.elem_type for o in model.graph.output} == {onnx.TensorProto.FLOAT}
    assert read_metadata(path)['smplerx.precision'] == 'fp16'
    cfg = onnx_cfgs['S32']
    with caplog.at_level('WARNING'):
        ort16 = OrtEstimator(path, cfg, None, torch.device('cpu'))
    assert 'fp16 export' in caplog.text and ort16.precision == 'fp16'
    net = build_test_model(cfg)
    img = crops8[:2].transpose(0, 3, 1, 2) / np.float32(255)
    with torch.inference_mode():
        ref = net({'img': torch.from_numpy(img.copy())}, {}, {}, 'test')
        with torch.autocast('cpu', torch.float16):
            ref16 = net({'img': torch.from_numpy(img.copy())}, {}, {}, 'test')
    got = {1: ort16.run_network(img[:1]), 2: ort16.run_network(img)}
    for key, value in got[2].items():
        r = ref[key].numpy()
        torch_err = float(np.abs(ref16[key].float().numpy() - r).max())
        bound = 3 * torch_err + 1e-4 * (1 + float(np.abs(r).max()))
        for batch, outs in got.items():
            err = float(np.abs(outs[key] - r[:batch]).max())
            assert err <= bound, f'fp16 batch {batch} {key}: max |delta| {err:.3g}, torch fp16 {torch_err:.3g}'


# ---------------------------------------------------------------------------------------------- bad inputs
def test_bad_onnx_files_give_clear_errors(tmp_path, onnx_files, onnx_cfgs, human_model_path):
    import onnx
    import torch

    from common.deploy.metadata import OnnxFileError
    from common.deploy.runtime import OrtEstimator
    from common.utils.human_models import get_smplx
    body = get_smplx(str(human_model_path))
    cfg = onnx_cfgs['S32']
    with pytest.raises(OnnxFileError, match='not found.*export_onnx.py'):
        OrtEstimator(tmp_path / 'missing.onnx', cfg, body, torch.device('cpu'))
    bad = tmp_path / 'corrupt.onnx'
    bad.write_bytes(b'\x08\x07 this is not a protobuf' * 50)
    with pytest.raises(OnnxFileError, match='corrupt.onnx'):
        OrtEstimator(bad, cfg, body, torch.device('cpu'))
    truncated = tmp_path / 'truncated.onnx'
    truncated.write_bytes(onnx_files['S32'].read_bytes()[:200_000])
    with pytest.raises(OnnxFileError, match='truncated.onnx'):
        OrtEstimator(truncated, cfg, body, torch.device('cpu'))
    plain = tmp_path / 'plain.onnx'
    node = onnx.helper.make_node('Identity', ['img'], ['y'])
    vi = onnx.helper.make_tensor_value_info
    onnx.save(onnx.helper.make_model(onnx.helper.make_graph([node], 'g', [vi('img', 1, None)], [vi('y', 1, None)])),
              str(plain))
    with pytest.raises(OnnxFileError, match='not a SMPLer-X export'):
        OrtEstimator(plain, cfg, body, torch.device('cpu'))
    with pytest.raises(OnnxFileError, match=r'config_smpler_x_s32.*config_smpler_x_b32.*feat_dim: file 384, config 768'):
        OrtEstimator(onnx_files['S32'], onnx_cfgs['B32'], body, torch.device('cpu'))


def test_export_and_inference_flags_fail_in_one_line(tmp_path):
    def run(script, *args):
        return subprocess.run([sys.executable, str(ROOT / script), *args], capture_output=True, text=True,
                              timeout=120, cwd=tmp_path)
    p = run('tools/export_onnx.py', '--config', 'config_smpler_x_s32', '--out', 'x.onnx')
    assert p.returncode == 2 and p.stderr.count('\n') == 1 and '--ckpt PATH (or --random_weights)' in p.stderr
    p = run('tools/export_onnx.py', '--config', 'config_smpler_x_s32', '--random_weights', '--out', 'x.onnx',
            '--opset', '11')
    assert p.returncode == 2 and '--opset must be >= 16' in p.stderr
    p = run('main/inference.py', '--video_input', 'v.mp4', '--backend', 'onnxruntime')
    assert p.returncode == 2 and '--backend onnxruntime needs --onnx FILE' in p.stderr
    p = run('main/inference.py', '--video_input', 'v.mp4', '--onnx', 'm.onnx', '--pretrained_model', 'smpler_x_s32')
    assert p.returncode == 2 and '--onnx needs --backend onnxruntime' in p.stderr
    p = run('main/inference.py', '--video_input', 'v.mp4', '--backend', 'onnxruntime', '--onnx', 'm.onnx',
            '--ckpt', 'k.pth')
    assert p.returncode == 2 and '--ckpt applies to --backend torch' in p.stderr


def test_export_help_imports_no_torch(tmp_path):
    script = str(ROOT / 'tools' / 'export_onnx.py')
    code = (f'import runpy, sys\nsys.argv = [{script!r}, "--help"]\n'
            f'try:\n    runpy.run_path({script!r}, run_name="__main__")\nexcept SystemExit:\n    pass\n'
            'print("@@", [m for m in ("torch", "onnx", "onnxruntime", "mmengine") if m in sys.modules])')
    p = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert p.stdout.rsplit('@@', 1)[1].strip() == '[]', p.stdout[-500:] + p.stderr[-500:]


# ---------------------------------------------------------------------------------------------- end to end
def test_inference_onnxruntime_backend_equals_torch(tmp_path, onnx_files, human_model_path, weights_dir,
                                                    inference_entry):
    """main/inference.py on the first frames of demo/sample.mp4 (given boxes): results.npz of --backend
    onnxruntime equals --backend torch (same weights) within the tolerance; run.json records the backend."""
    common = ['--video_input', str(ROOT / 'demo' / 'sample.mp4'), '--bbox_file', str(ROOT / 'demo' /
              'sample_boxes.json'), '--end', '2', '--config', 'config_smpler_x_s32', '--cfg-options',
              f'encoder.depth={DEPTH}', f'human_model_path={human_model_path}', f'pretrained_model_dir={weights_dir}',
              '--no_progress', '--no_overlay', '--batch_size', '4', '--device', 'cpu']
    out_t, out_o = tmp_path / 'torch', tmp_path / 'ort'
    inference_entry.main([*common, '--ckpt', str(onnx_files['S32_ckpt']), '--output_folder', str(out_t)])
    summary = inference_entry.main([*common, '--backend', 'onnxruntime', '--onnx', str(onnx_files['S32']),
                                    '--output_folder', str(out_o)])
    assert summary['people'] == 4
    ref, got = np.load(out_t / 'results.npz'), np.load(out_o / 'results.npz')
    assert sorted(ref.files) == sorted(got.files)
    compared = 0
    for key in ref.files:
        a, b = ref[key], got[key]
        assert a.shape == b.shape, key
        if a.dtype.kind == 'f':
            ok, worst = _tolerance_ok(a, b)
            assert ok, f'results.npz {key}: |delta| up to {worst:.2f}x the tolerance'
            compared += 1
        else:
            np.testing.assert_array_equal(a, b, err_msg=key)
    assert compared >= 5
    model = json.loads((out_o / 'run.json').read_text())['model']
    assert model['backend'] == 'onnxruntime' and model['onnx'] == str(onnx_files['S32'].resolve())
    assert model['weights'] == 'random'
