"""`common.utils.image_io.read_image`: decodes like cv2.imread and names the file and the problem of an
unusable one, including truncated JPEGs that OpenCV would decode silently."""
import cv2
import numpy as np
import pytest

from common.utils.image_io import ImageReadError, jpeg_is_truncated, read_image


@pytest.fixture
def jpeg(tmp_path):
    rng = np.random.default_rng(0)
    img = cv2.GaussianBlur(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8), (5, 5), 2)
    path = tmp_path / 'a.jpg'
    cv2.imwrite(str(path), img)
    return path


def test_whole_files_decode_exactly_as_imread(jpeg, tmp_path):
    np.testing.assert_array_equal(read_image(jpeg), cv2.imread(str(jpeg), cv2.IMREAD_COLOR))
    png = tmp_path / 'a.png'
    cv2.imwrite(str(png), read_image(jpeg))
    np.testing.assert_array_equal(read_image(png), cv2.imread(str(png)))
    # bytes after the end-of-image marker (some cameras append data) do not make a JPEG truncated
    padded = tmp_path / 'padded.jpg'
    padded.write_bytes(jpeg.read_bytes() + b'\x00' * 64 + b'trailer')
    np.testing.assert_array_equal(read_image(padded), read_image(jpeg))


@pytest.mark.parametrize('keep', [0.3, 0.9, 0.999])
def test_truncated_jpeg_is_reported(jpeg, tmp_path, keep):
    data = jpeg.read_bytes()
    cut = tmp_path / 'cut.jpg'
    cut.write_bytes(data[:int(len(data) * keep)])
    assert jpeg_is_truncated(cut.read_bytes()) and not jpeg_is_truncated(data)
    with pytest.raises(ImageReadError, match=r'cut\.jpg: truncated JPEG'):
        read_image(cut)


def test_missing_empty_and_garbage_files(tmp_path):
    with pytest.raises(ImageReadError, match='nope.jpg: no such file'):
        read_image(tmp_path / 'nope.jpg')
    (tmp_path / 'empty.png').write_bytes(b'')
    (tmp_path / 'junk.png').write_bytes(b'not an image at all')
    for name in ('empty.png', 'junk.png'):
        with pytest.raises(ImageReadError, match=f'{name}: not a decodable image'):
            read_image(tmp_path / name)
