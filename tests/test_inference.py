"""main/inference.py end to end on a synthetic two-person video (tiny model, synthetic body model, CPU)."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from common.inference.person import PARAM_SHAPES
from tests.fixtures.inference import read_video


def read_obj_vertices(path):
    return np.array([[float(x) for x in line.split()[1:]] for line in open(path) if line.startswith('v ')])


def test_bbox_file_run_writes_every_output(bbox_run, two_person_video):
    out, summary = bbox_run
    boxes = json.loads(two_person_video[1].read_text())['frames']
    assert summary['frames'] == 6 and summary['people'] == 12 and summary['skipped'] == 0
    stems = sorted(p.stem for p in (out / 'smplx').glob('*.npz'))
    assert stems == [f'{f:06d}_{p}' for f in range(1, 7) for p in (0, 1)]
    for sub, ext in (('meta', 'json'), ('mesh', 'obj'), ('mesh', 'ply')):
        assert sorted(p.stem for p in (out / sub).glob(f'*.{ext}')) == stems, (sub, ext)
    with np.load(out / 'smplx' / '000003_1.npz') as z:
        assert {k: z[k].shape for k in z.files} == PARAM_SHAPES
        assert np.all(z['leye_pose'] == 0) and np.all(np.isfinite(z['body_pose']))
    import trimesh
    ply = trimesh.load(out / 'mesh' / '000003_1.ply', process=False)
    assert ply.vertices.shape == (10475, 3) and ply.faces.shape == (20908, 3)
    # meta: focal/princpt in original-image pixels from the processed box (SPEC §1.10), raw box from the file
    meta = json.loads((out / 'meta' / '000002_0.json').read_text())
    x, y, w, h = meta['bbox']
    np.testing.assert_allclose(meta['focal'], [5000 / 192 * w, 5000 / 256 * h], rtol=1e-5)
    np.testing.assert_allclose(meta['princpt'], [96 / 192 * w + x, 128 / 256 * h + y], rtol=1e-5)
    file_boxes = {b['track_id']: b['bbox'] for b in boxes['2']}
    assert meta['bbox_mmdet'] == pytest.approx(file_boxes[meta['track_id']], abs=1e-3)
    assert abs(w / h - 0.75) < 1e-3 and w * h > np.prod(meta['bbox_mmdet'][2:])  # 1.25 enlarged, 3:4
    # results.npz: every frame and person, track ids from the boxes file
    res = np.load(out / 'results.npz')
    assert list(res['frame_ids']) == list(range(1, 7))
    assert res['body_pose'].shape == (12, 21, 3) and res['betas'].shape == (12, 10) and res['focal'].shape == (12, 2)
    assert sorted(set(res['track_id'].tolist())) == [0, 1]
    np.testing.assert_allclose(res['img_sizes'], [[320, 240]] * 6)
    # overlay video: input frame count and size; meshes change the frames
    video_in, video_out = read_video(two_person_video[0]), read_video(summary['video'])
    assert len(video_out) == len(video_in) == 6 and video_out[0].shape == video_in[0].shape == (240, 320, 3)


def test_saved_params_reproduce_saved_mesh(bbox_run, human_model_path):
    from common.inference.result_files import load_params
    from common.inference.stream import pose_people
    from common.utils.human_models import get_smplx
    out, _ = bbox_run
    params = [load_params(out / 'smplx' / f'00000{f}_{p}.npz') for f, p in ((1, 0), (4, 1))]
    verts, _ = pose_people(get_smplx(human_model_path), params)
    for v, (f, p) in zip(verts, ((1, 0), (4, 1))):
        saved = read_obj_vertices(out / 'mesh' / f'00000{f}_{p}.obj')
        assert saved.shape == (10475, 3)
        np.testing.assert_allclose(v, saved, atol=2e-5)
    # the translation matters: without it the mesh is elsewhere
    no_t = dict(params[0], transl=np.zeros((1, 3), np.float32))
    assert np.abs(pose_people(get_smplx(human_model_path), [no_t])[0][0] - verts[0]).max() > 0.1


def test_untrained_yolo_detector_run(tmp_path, two_person_video, model_args, inference_entry, offline_env):
    out = tmp_path / 'yolo'
    summary = inference_entry.main(['--video_input', str(two_person_video[0]), '--detector', 'yolov8n.yaml',
                                    '--score_thr', '0', '--bbox_thr', '0', '--output_folder', str(out),
                                    '--save_mesh', *model_args])
    assert summary['frames'] == 6
    records = [json.loads(p.read_text()) for p in sorted((out / 'frames').glob('*.json'))]
    assert [r['frame'] for r in records] == list(range(1, 7))
    assert all(len(r['people']) <= 1 for r in records)  # single-person mode
    n = sum(len(r['people']) for r in records)
    assert n >= 1  # an untrained YOLO with a zero score threshold still returns (meaningless) boxes
    assert len(list((out / 'smplx').glob('*.npz'))) == len(list((out / 'mesh').glob('*.obj'))) == n
    assert np.load(out / 'results.npz')['global_orient'].shape == (n, 3)
    frames = read_video(summary['video'])
    assert len(frames) == 6 and frames[0].shape == (240, 320, 3)


def test_resume_skips_finished_frames_and_smoothing_keeps_mesh_consistent(
        tmp_path, two_person_video, model_args, inference_entry, human_model_path):
    video, boxes = two_person_video
    out = tmp_path / 'resume'
    base = ['--video_input', str(video), '--bbox_file', str(boxes), '--output_folder', str(out), '--save_mesh',
            '--smooth', *model_args]
    first = inference_entry.main(base + ['--start', '1', '--end', '3'])
    assert first['frames'] == 3
    stamp = (out / 'smplx' / '000002_0.npz').stat().st_mtime_ns
    second = inference_entry.main(base + ['--resume'])
    assert second['skipped'] == 3 and second['frames'] == 3
    assert (out / 'smplx' / '000002_0.npz').stat().st_mtime_ns == stamp  # not recomputed
    assert len(list((out / 'smplx').glob('*.npz'))) == 12
    assert len(read_video(second['video'])) == 6  # skipped frames are redrawn from the saved results
    assert list(np.load(out / 'results.npz')['frame_ids']) == list(range(1, 7))
    # smoothed parameters are what the saved mesh shows
    from common.inference.result_files import load_params
    from common.inference.stream import pose_people
    from common.utils.human_models import get_smplx
    v = pose_people(get_smplx(human_model_path), [load_params(out / 'smplx' / '000005_1.npz')])[0][0]
    np.testing.assert_allclose(v, read_obj_vertices(out / 'mesh' / '000005_1.obj'), atol=2e-5)
    # a new run without --resume into the same folder: results.npz holds only this run's frames
    third = inference_entry.main(base + ['--start', '2', '--end', '1', '--no_overlay'])
    assert third['frames'] == 1 and third['video'] is None
    assert list(np.load(out / 'results.npz')['frame_ids']) == [2]


def test_image_folder_with_bad_files_and_frames_without_people(tmp_path, two_person_video, model_args,
                                                               inference_entry, caplog):
    frames_dir = tmp_path / 'frames'
    frames_dir.mkdir()
    for i, img in enumerate(read_video(two_person_video[0])[:3], start=1):
        cv2.imwrite(str(frames_dir / f'{i:06d}.jpg'), img)
    (frames_dir / '000004.jpg').write_bytes(b'not a jpeg')
    (frames_dir / 'notes.txt').write_text('ignored')
    boxes = {'format': 'xywh', 'frames': {
        '1': [[40, 50, 80, 180], [0, 0, 0, 0], [500, 500, 30, 30]],  # one good, one zero-size, one outside
        '000002.jpg': [{'bbox': [150, 40, 90, 190], 'track_id': 7}],
    }}  # frame 3: nobody
    box_file = tmp_path / 'boxes.json'
    box_file.write_text(json.dumps(boxes))
    out = tmp_path / 'out'
    summary = inference_entry.main(['--img_path', str(frames_dir), '--bbox_file', str(box_file),
                                    '--output_folder', str(out), '--show_verts', *model_args])
    assert summary['frames'] == 3 and summary['people'] == 2
    assert sorted(p.name for p in (out / 'img').iterdir()) == ['000001.jpg', '000002.jpg', '000003.jpg']
    assert cv2.imread(str(out / 'img' / '000003.jpg')).shape == (240, 320, 3)
    assert json.loads((out / 'frames' / '000003.json').read_text())['people'] == []
    assert json.loads((out / 'meta' / '000002_0.json').read_text())['track_id'] == 7
    text = caplog.text
    assert text.count('has no area inside the 320x240 image') == 2 and '000004.jpg' in text


@pytest.mark.parametrize('case', ['missing_video', 'not_a_video', 'empty_folder', 'bad_box_file',
                                  'missing_checkpoint', 'missing_detector'])
def test_bad_inputs_give_clear_errors(case, tmp_path, two_person_video, model_args, inference_entry, offline_env,
                                      caplog):
    video, boxes = two_person_video
    args = ['--video_input', str(video), '--bbox_file', str(boxes)]
    expect = ''
    if case == 'missing_video':
        args[1], expect = str(tmp_path / 'nope.mp4'), 'does not exist'
    elif case == 'not_a_video':
        bad = tmp_path / 'bad.mp4'
        bad.write_bytes(b'\x00' * 1000)
        args[1], expect = str(bad), 'bad.mp4'
    elif case == 'empty_folder':
        (tmp_path / 'empty').mkdir()
        args[:2], expect = ['--img_path', str(tmp_path / 'empty')], 'holds no image files'
    elif case == 'bad_box_file':
        (tmp_path / 'b.json').write_text('{"frames": {"1": [[1, 2, 3]]}}')
        args[3], expect = str(tmp_path / 'b.json'), 'must be 4 numbers'
    elif case == 'missing_checkpoint':
        model_args = [a for a in model_args if a not in ('--ckpt',) and not a.endswith('.pth.tar')]
        model_args[model_args.index('--config'):model_args.index('--config') + 2] = \
            ['--pretrained_model', 'smpler_x_s32']
        expect = 'smpler_x_s32'
    elif case == 'missing_detector':
        args = args[:2] + ['--detector', 'yolov8x.pt']
        expect = 'yolov8x.pt'
    with pytest.raises(SystemExit) as info:
        inference_entry.main(args + ['--output_folder', str(tmp_path / 'o'), *model_args])
    assert info.value.code == 2
    assert expect in caplog.text


def test_truncated_video(tmp_path, two_person_video, model_args, inference_entry, caplog):
    """mp4 cut before its index: a clear refusal; a streamable AVI cut mid-way: the decodable frames are written
    and a warning says the file may be truncated."""
    video, boxes = two_person_video
    data = video.read_bytes()
    cut = tmp_path / 'cut.mp4'
    cut.write_bytes(data[:len(data) * 2 // 3])
    with pytest.raises(SystemExit) as info:
        inference_entry.main(['--video_input', str(cut), '--bbox_file', str(boxes), '--output_folder',
                              str(tmp_path / 'o1'), *model_args])
    assert info.value.code == 2 and 'cut.mp4' in caplog.text
    avi = tmp_path / 'full.avi'
    writer = cv2.VideoWriter(str(avi), cv2.VideoWriter_fourcc(*'MJPG'), 12.0, (320, 240))
    for img in read_video(video):
        writer.write(img)
    writer.release()
    data = avi.read_bytes()
    cut = tmp_path / 'cut.avi'
    cut.write_bytes(data[:len(data) // 2])
    out = tmp_path / 'o2'
    summary = inference_entry.main(['--video_input', str(cut), '--bbox_file', str(boxes), '--output_folder',
                                    str(out), *model_args])
    assert 1 <= summary['frames'] < 6
    assert len(list((out / 'frames').glob('*.json'))) == summary['frames']
    assert len(read_video(summary['video'])) == summary['frames']
    assert 'truncated' in caplog.text


def test_stage_error_keeps_written_frames(tmp_path, two_person_video, human_model_path):
    """A failing model after the first batch: finished frames and results.npz survive, the error is raised."""
    from common.inference.detection import BoxTable, load_bbox_file
    from common.inference.estimator import CropCamera
    from common.inference.io import open_source
    from common.inference.output_stage import WriteOptions
    from common.inference.runner import describe_input, run_to_folder
    from common.inference.stream import StreamOptions, stream_results
    from common.utils.human_models import get_smplx
    bm = get_smplx(human_model_path)
    calls = []

    def estimator(crops):
        calls.append(len(crops))
        if len(calls) > 1:
            raise RuntimeError('boom')
        n = len(crops)
        z = lambda d: torch.zeros(n, d)  # noqa: E731
        out = bm(global_orient=z(3), body_pose=z(63), left_hand_pose=z(45), right_hand_pose=z(45),
                 jaw_pose=z(3), betas=z(10), expression=z(10))
        t = torch.tensor([0, 0, 5.0])
        return {'smplx_root_pose': z(3), 'smplx_body_pose': z(63), 'smplx_lhand_pose': z(45),
                'smplx_rhand_pose': z(45), 'smplx_jaw_pose': z(3), 'smplx_shape': z(10), 'smplx_expr': z(10),
                'cam_trans': t.repeat(n, 1), 'smplx_mesh_cam': out.vertices + t, 'smplx_joint_cam': out.joints + t}

    source = open_source(two_person_video[0])
    boxes = BoxTable(load_bbox_file(two_person_video[1]))
    opts = StreamOptions(batch_size=2, det_batch_size=1)
    with pytest.raises(RuntimeError, match='boom'):
        run_to_folder(tmp_path / 'o', source,
                      lambda kept: stream_results(source, estimator, CropCamera(), opts, boxes=boxes, finished=kept),
                      WriteOptions(), faces=bm.faces, body_model=bm, provenance={'input': describe_input(source)},
                      progress=False)
    res = np.load(tmp_path / 'o' / 'results.npz')
    assert list(res['frame_ids']) == [1] and res['transl'].shape == (2, 3)
    np.testing.assert_allclose(res['transl'], [[0, 0, 5]] * 2)


def test_estimator_precisions_give_shapes_and_finite_values(tiny_cfg):
    from common.inference.estimator import Estimator
    from common.inference.person import outputs_to_params
    from common.model import build_model
    torch.manual_seed(0)
    model = build_model(tiny_cfg, mode='train').eval()
    crops = np.random.default_rng(0).uniform(0, 255, (3, 512, 384, 3)).astype(np.float32)
    given = crops.copy()
    results = {}
    # fp32 splits a batch of 3 into people; bf16 (same code under autocast) runs one crop: a bf16
    # ConvTranspose2d costs seconds per crop on CPUs without native bf16 (aten::slow_conv_transpose2d)
    for precision, n in (('fp32', 3), ('bf16', 1)):
        out = Estimator(model, torch.device('cpu'), precision)(crops[:n])
        np.testing.assert_array_equal(crops, given)  # the caller's crops are read, never scaled in place
        people = outputs_to_params(out)
        assert len(people) == n
        for person in people:
            assert {k: person[k].shape for k in PARAM_SHAPES} == PARAM_SHAPES
            assert all(np.isfinite(v).all() for v in person.values())
        assert out['smplx_mesh_cam'].shape == (n, 10475, 3) and out['smplx_joint_cam'].shape == (n, 144, 3)
        results[precision] = people
    np.testing.assert_allclose(results['bf16'][0]['transl'], results['fp32'][0]['transl'], rtol=0.1, atol=0.05)
    with pytest.raises(ValueError, match='--precision'):
        Estimator(model, torch.device('cpu'), 'fp8')
