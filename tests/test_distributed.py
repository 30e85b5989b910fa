"""common.utils.distributed: launch detection (none / torchrun / SLURM) and the collectives on 2 gloo ranks."""
import json
import os
import socket

import pytest
import torch
import torch.multiprocessing as mp
from torch import nn

from common.utils import distributed as du

LAUNCH_VARS = ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT', 'SLURM_PROCID', 'SLURM_NTASKS',
               'SLURM_LOCALID', 'SLURM_NODELIST', 'SLURM_JOB_ID')


@pytest.fixture
def clean_env(monkeypatch):
    """No launcher variables; everything the code under test writes into os.environ is undone afterwards
    (monkeypatch alone would not restore variables that were absent before the test)."""
    saved = dict(os.environ)
    for name in LAUNCH_VARS:
        monkeypatch.delenv(name, raising=False)
    yield monkeypatch
    monkeypatch.undo()  # first, or its undo would later re-set variables the code wrote mid-test
    os.environ.clear()
    os.environ.update(saved)


@pytest.mark.parametrize('nodelist, host', [
    ('node07', 'node07'),
    ('gpu[03-04,09]', 'gpu03'),
    ('gpu[003-004],cpu1', 'gpu003'),
    ('a1,b[2-3]', 'a1'),
    ('n[1-2]-ib', 'n1-ib'),
    ('sh-[10,12]', 'sh-10'),
])
def test_first_slurm_host(nodelist, host):
    assert du.first_slurm_host(nodelist) == host


def test_single_process_needs_no_env(clean_env):
    info = du.init_from_env('cpu')
    assert (info.rank, info.world_size, info.local_rank, info.backend) == (0, 1, 0, None)
    assert info.device == torch.device('cpu')
    assert (du.get_rank(), du.get_world_size(), du.get_local_rank(), du.is_main_process()) == (0, 1, 0, True)
    du.barrier()
    assert du.all_gather({'a': 1}) == [{'a': 1}]
    assert du.broadcast_object('x') == 'x'
    out = du.reduce_dict({'b': torch.tensor(2.0), 'a': torch.tensor([3.0])})
    assert {k: v.item() for k, v in out.items()} == {'a': 3.0, 'b': 2.0}
    model = nn.Linear(2, 2)
    assert du.wrap_model(model, info.device) is model and du.unwrap(model) is model


def test_slurm_env_sets_master_from_nodelist(clean_env):
    clean_env.setenv('SLURM_PROCID', '3')
    clean_env.setenv('SLURM_NTASKS', '8')
    clean_env.setenv('SLURM_LOCALID', '1')
    clean_env.setenv('SLURM_NODELIST', 'gpu[12-13]')
    clean_env.setenv('SLURM_JOB_ID', '4321')
    assert du._launch_from_env() == (3, 8, 1)
    assert os.environ['MASTER_ADDR'] == 'gpu12'
    assert os.environ['MASTER_PORT'] == str(29500 + 321)
    assert (os.environ['RANK'], os.environ['WORLD_SIZE'], os.environ['LOCAL_RANK']) == ('3', '8', '1')


def test_slurm_keeps_a_given_master_addr_and_single_task_is_single_process(clean_env):
    clean_env.setenv('SLURM_PROCID', '0')
    clean_env.setenv('SLURM_NTASKS', '2')
    clean_env.setenv('SLURM_NODELIST', 'weird-list-scontrol-would-be-needed[')
    clean_env.setenv('MASTER_ADDR', '10.0.0.5')
    clean_env.setenv('MASTER_PORT', '1234')
    assert du._launch_from_env() == (0, 2, 0)
    assert (os.environ['MASTER_ADDR'], os.environ['MASTER_PORT']) == ('10.0.0.5', '1234')
    for name in LAUNCH_VARS:
        clean_env.delenv(name, raising=False)
    clean_env.setenv('SLURM_PROCID', '0')
    clean_env.setenv('SLURM_NTASKS', '1')       # an interactive srun: one task, no process group
    assert du._launch_from_env() is None


def test_torchrun_env_wins(clean_env):
    clean_env.setenv('RANK', '1')
    clean_env.setenv('WORLD_SIZE', '2')
    clean_env.setenv('LOCAL_RANK', '1')
    clean_env.setenv('SLURM_PROCID', '5')
    clean_env.setenv('SLURM_NTASKS', '16')
    assert du._launch_from_env() == (1, 2, 1)


def test_cuda_request_without_cuda_is_clear(clean_env):
    if torch.cuda.is_available():
        pytest.skip('CUDA present')
    from common.utils.device import DeviceError
    with pytest.raises(DeviceError, match='--device cpu'):
        du.init_from_env('cuda')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, out_dir: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), MASTER_ADDR='127.0.0.1',
                      MASTER_PORT=str(port))
    info = du.init_from_env('cpu')
    result = {'rank': du.get_rank(), 'world': du.get_world_size(), 'local': du.get_local_rank(),
              'backend': info.backend, 'main': du.is_main_process()}
    result['gathered'] = du.all_gather({'r': rank})
    result['broadcast'] = du.broadcast_object(f'from{rank}')
    reduced = du.reduce_dict({'x': torch.tensor(float(rank + 1)), 'y': torch.tensor(10.0 * rank)})
    result['reduced'] = {k: v.item() for k, v in reduced.items()}
    summed = du.reduce_dict({'x': torch.tensor(float(rank + 1))}, average=False)
    result['summed'] = summed['x'].item()
    model = nn.Linear(2, 1)
    torch.nn.init.constant_(model.weight, float(rank))      # DDP must broadcast rank 0's weights
    wrapped = du.wrap_model(model, info.device)
    result['ddp'] = type(wrapped).__name__
    result['unwrap_is_model'] = du.unwrap(wrapped) is model
    result['weight'] = model.weight.detach().tolist()
    du.barrier()
    with open(os.path.join(out_dir, f'rank{rank}.json'), 'w') as f:
        json.dump(result, f)
    du.destroy()


def test_two_gloo_ranks(tmp_path, clean_env):
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    results = [json.loads((tmp_path / f'rank{r}.json').read_text()) for r in range(2)]
    for r, res in enumerate(results):
        assert (res['rank'], res['world'], res['local'], res['backend']) == (r, 2, r, 'gloo')
        assert res['main'] is (r == 0)
        assert res['gathered'] == [{'r': 0}, {'r': 1}]
        assert res['broadcast'] == 'from0'
        assert res['reduced'] == {'x': 1.5, 'y': 5.0}
        assert res['summed'] == 3.0
        assert res['ddp'] == 'DistributedDataParallel' and res['unwrap_is_model']
        assert res['weight'] == [[0.0, 0.0]]
