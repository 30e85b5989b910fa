"""Weight resolution: local files, zoo names, (mocked) Hugging Face download, offline errors, YOLO weights.

Never touches the network: offline flags are set for every test, and the download tests replace
`huggingface_hub.hf_hub_download` / `ultralytics.YOLO` with local fakes."""
from pathlib import Path

import pytest

from common.weights import WeightsNotFoundError, load_yolo, resolve_checkpoint, resolve_yolo


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path_factory):
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    monkeypatch.setenv('YOLO_OFFLINE', '1')
    monkeypatch.setenv('YOLO_AUTOINSTALL', 'False')
    monkeypatch.setenv('YOLO_CONFIG_DIR', str(tmp_path_factory.mktemp('yolo_config')))


def _fail_if_called(*args, **kwargs):
    raise AssertionError(f'network access attempted: {args} {kwargs}')


def test_existing_path_is_returned(tmp_path):
    f = tmp_path / 'elsewhere' / 'my_snapshot.pth.tar'
    f.parent.mkdir()
    f.write_bytes(b'x')
    assert resolve_checkpoint(f, tmp_path / 'pretrained') == f
    assert resolve_checkpoint(str(f), tmp_path / 'pretrained') == f


@pytest.mark.parametrize('query', ['smpler_x_h32_correct', 'smpler_x_h32_correct.pth.tar'])
def test_zoo_name_resolves_in_pretrained_dir(tmp_path, monkeypatch, query):
    import huggingface_hub
    monkeypatch.setattr(huggingface_hub, 'hf_hub_download', _fail_if_called)
    (tmp_path / 'smpler_x_h32_correct.pth.tar').write_bytes(b'x')
    assert resolve_checkpoint(query, tmp_path) == tmp_path / 'smpler_x_h32_correct.pth.tar'


def test_safetensors_preferred_when_both_exist(tmp_path):
    (tmp_path / 'smpler_x_s32.pth.tar').write_bytes(b'x')
    (tmp_path / 'smpler_x_s32.safetensors').write_bytes(b'x')
    assert resolve_checkpoint('smpler_x_s32', tmp_path) == tmp_path / 'smpler_x_s32.safetensors'
    # an explicit file name wins over the preference
    assert resolve_checkpoint('smpler_x_s32.pth.tar', tmp_path) == tmp_path / 'smpler_x_s32.pth.tar'


def test_offline_missing_zoo_checkpoint_gives_one_clear_message(tmp_path, monkeypatch):
    import huggingface_hub
    monkeypatch.setattr(huggingface_hub, 'hf_hub_download', _fail_if_called)
    with pytest.raises(WeightsNotFoundError) as info:
        resolve_checkpoint('smpler_x_h32', tmp_path / 'pretrained_models')
    text = str(info.value)
    for part in ('smpler_x_h32.pth.tar', str(tmp_path / 'pretrained_models'), 'caizhongang/SMPLer-X',
                 'HF_HUB_OFFLINE', 'hf download', 'pretrained_models/README.md', 'github.com/caizhongang/SMPLer-X'):
        assert part in text, part
    assert isinstance(info.value, FileNotFoundError)


def test_download_disabled_and_custom_repo(tmp_path, monkeypatch):
    monkeypatch.delenv('HF_HUB_OFFLINE')
    import huggingface_hub
    monkeypatch.setattr(huggingface_hub, 'hf_hub_download', _fail_if_called)
    with pytest.raises(WeightsNotFoundError, match='downloading disabled') as info:
        resolve_checkpoint('smpler_x_l32', tmp_path, repo_id='camenduru/SMPLer-X', download=False)
    assert 'camenduru/SMPLer-X' in str(info.value)


def test_unknown_name_is_not_downloaded(tmp_path, monkeypatch):
    monkeypatch.delenv('HF_HUB_OFFLINE')
    import huggingface_hub
    monkeypatch.setattr(huggingface_hub, 'hf_hub_download', _fail_if_called)
    with pytest.raises(WeightsNotFoundError, match='not a released model') as info:
        resolve_checkpoint('smpler_x_s5', tmp_path)
    assert 'smpler_x_h32_correct' in str(info.value)


def test_online_download_goes_to_pretrained_dir(tmp_path, monkeypatch):
    monkeypatch.delenv('HF_HUB_OFFLINE')
    calls = []

    def fake_download(repo_id, filename, *, local_dir, **kwargs):
        calls.append((repo_id, filename, Path(local_dir)))
        out = Path(local_dir) / filename
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(b'weights')
        return str(out)

    import huggingface_hub
    monkeypatch.setattr(huggingface_hub, 'hf_hub_download', fake_download)
    got = resolve_checkpoint('smpler_x_b32', tmp_path / 'pm')
    assert calls == [('caizhongang/SMPLer-X', 'smpler_x_b32.pth.tar', tmp_path / 'pm')]
    assert got == tmp_path / 'pm' / 'smpler_x_b32.pth.tar' and got.read_bytes() == b'weights'


def test_failed_download_gives_clear_message(tmp_path, monkeypatch):
    monkeypatch.delenv('HF_HUB_OFFLINE')

    def no_network(*args, **kwargs):
        raise ConnectionError('Failed to resolve huggingface.co')

    import huggingface_hub
    monkeypatch.setattr(huggingface_hub, 'hf_hub_download', no_network)
    with pytest.raises(WeightsNotFoundError) as info:
        resolve_checkpoint('smpler_x_s32', tmp_path)
    text = str(info.value)
    assert 'ConnectionError: Failed to resolve huggingface.co' in text
    assert 'smpler_x_s32.pth.tar' in text and str(tmp_path) in text
    assert isinstance(info.value.__cause__, ConnectionError)


def test_resolve_yolo_local_yaml_and_missing(tmp_path):
    assert resolve_yolo('yolov8n.yaml', tmp_path) == 'yolov8n.yaml'
    (tmp_path / 'yolov8x.pt').write_bytes(b'x')
    assert resolve_yolo('yolov8x.pt', tmp_path) == str(tmp_path / 'yolov8x.pt')
    assert resolve_yolo(str(tmp_path / 'yolov8x.pt')) == str(tmp_path / 'yolov8x.pt')
    # missing: ultralytics will download into weights_dir
    assert resolve_yolo('yolov8s.pt', tmp_path) == str(tmp_path / 'yolov8s.pt')
    with pytest.raises(WeightsNotFoundError, match='does not exist'):
        resolve_yolo(str(tmp_path / 'sub' / 'custom.pt'))


def test_load_yolo_offline_gives_clear_message(tmp_path, monkeypatch):
    import ultralytics
    monkeypatch.setattr(ultralytics, 'YOLO', _fail_if_called)
    with pytest.raises(WeightsNotFoundError) as info:
        load_yolo('yolov8x.pt', tmp_path)
    text = str(info.value)
    assert 'yolov8x.pt' in text and str(tmp_path) in text and 'YOLO_OFFLINE' in text


def test_load_yolo_download_failure_gives_clear_message(tmp_path, monkeypatch):
    monkeypatch.delenv('YOLO_OFFLINE')

    def no_network(source):
        raise ConnectionError(f'Download failure for {source}. Environment may be offline.')

    import ultralytics
    monkeypatch.setattr(ultralytics, 'YOLO', no_network)
    with pytest.raises(WeightsNotFoundError) as info:
        load_yolo('yolov8x.pt', tmp_path)
    assert f'Put yolov8x.pt in {tmp_path}' in str(info.value)


def test_load_yolo_builds_untrained_model_from_yaml():
    model = load_yolo('yolov8n.yaml')
    assert type(model).__name__ == 'YOLO'
    assert sum(p.numel() for p in model.model.parameters()) > 1_000_000
