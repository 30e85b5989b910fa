"""common/vis/video.py: H.264/yuv420p MP4 written frame by frame; size rules; errors. Decoded with PyAV's
demuxer/decoder and OpenCV's (independent of the writer's code); the browser check is tests/test_video_browser.py."""
from __future__ import annotations

import logging
import struct

import numpy as np
import pytest

from common.vis.video import VideoWriter
from tests.fixtures.inference import read_video


def two_colour_frame(w, h, left=(0, 0, 255), right=(255, 128, 0)):
    img = np.empty((h, w, 3), np.uint8)
    img[:, :w // 2], img[:, w // 2:] = left, right
    return img


def top_level_boxes(path):
    """Names of the ISO-BMFF top-level boxes in file order (size + type headers, ISO/IEC 14496-12 §4.2)."""
    data, names, pos = path.read_bytes(), [], 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack('>I4s', data[pos:pos + 8])
        if size == 1:
            size = struct.unpack('>Q', data[pos + 8:pos + 16])[0]
        names.append(kind.decode('latin-1'))
        pos += size if size else len(data)
    return names


def test_writes_h264_yuv420p_mp4_with_index_first(tmp_path):
    import av
    path = tmp_path / 'sub' / 'out.mp4'
    writer = VideoWriter(path, 12.0)
    for i in range(7):
        writer.write(two_colour_frame(96, 64))
        assert not path.exists(), 'the final name appears only when the file is complete'
    assert writer.count == 7 and writer.size == (96, 64) and writer.path == path
    writer.close()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == 'h264' and stream.codec_context.profile in ('High', 'Main', 'Baseline')
        assert stream.codec_context.pix_fmt == 'yuv420p'
        assert (stream.codec_context.width, stream.codec_context.height) == (96, 64)
        assert stream.average_rate == 12
        frames = list(container.decode(video=0))
    assert len(frames) == 7
    boxes = top_level_boxes(path)
    assert boxes.index('moov') < boxes.index('mdat'), boxes  # faststart: playable while downloading
    # colours survive (BT.709 conversion and tags agree); left = red, right = orange in BGR
    first = read_video(path)[0]
    assert np.abs(first[32, 10].astype(int) - (0, 0, 255)).max() <= 8
    assert np.abs(first[32, 80].astype(int) - (255, 128, 0)).max() <= 8


def test_odd_first_size_is_padded_by_one_pixel_not_rescaled(tmp_path):
    img = np.zeros((51, 75, 3), np.uint8)
    img[:, :, 1] = 200
    img[:, 74] = (0, 0, 250)  # last column red: replicated into the added column
    img[50, :74] = (250, 0, 0)  # last row blue
    writer = VideoWriter(tmp_path / 'odd.mp4', 10)
    for _ in range(3):
        writer.write(img)
    writer.close()
    assert writer.size == (76, 52)
    out = read_video(tmp_path / 'odd.mp4')[0]
    assert out.shape == (52, 76, 3)
    assert np.abs(out[20, 75].astype(int) - (0, 0, 250)).max() <= 30  # padded column copies the red edge
    assert np.abs(out[51, 30].astype(int) - (250, 0, 0)).max() <= 30  # padded row copies the blue edge
    assert np.abs(out[20, 30].astype(int) - (0, 200, 0)).max() <= 12  # content in place (no scaling)


def test_frame_of_another_size_is_letterboxed_with_a_warning(tmp_path, caplog):
    writer = VideoWriter(tmp_path / 'mixed.mp4', 10)
    writer.write(np.full((80, 160, 3), 255, np.uint8))  # 2:1 white
    writer.write(np.full((80, 80, 3), 255, np.uint8))  # square white: fits as 80x80 in the middle
    with caplog.at_level(logging.WARNING):
        writer.close()
    first, second = read_video(tmp_path / 'mixed.mp4')
    assert first.shape == second.shape == (80, 160, 3)
    assert second[40, 80].min() > 240  # centre: the picture, unstretched
    assert second[40, 20].max() < 15 and second[40, 140].max() < 15  # sides: black borders
    assert second[40, 42].min() > 240 and second[40, 117].min() > 240  # square spans columns 40..119
    assert 'mixed.mp4' in caplog.text and '1 of 2 frame(s)' in caplog.text


@pytest.mark.parametrize('case', ['suffix', 'fps', 'frame'])
def test_bad_arguments_name_the_file(tmp_path, case):
    if case == 'suffix':
        with pytest.raises(ValueError, match=r"out\.avi.*'\.avi'.*\.mp4"):
            VideoWriter(tmp_path / 'out.avi', 10)
    elif case == 'fps':
        with pytest.raises(ValueError, match='positive'):
            VideoWriter(tmp_path / 'out.mp4', 0.0)
    else:
        writer = VideoWriter(tmp_path / 'out.mp4', 10)
        with pytest.raises(ValueError, match=r'out\.mp4.*uint8 BGR'):
            writer.write(np.zeros((8, 8), np.uint8))


def test_close_without_frames_writes_nothing(tmp_path):
    writer = VideoWriter(tmp_path / 'empty.mp4', 10)
    writer.close()
    writer.close()
    assert list(tmp_path.iterdir()) == []
