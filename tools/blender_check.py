"""Blender script: import BVH / glTF files headlessly and report armatures, frame ranges and joint positions.

    blender -b --factory-startup --python tools/blender_check.py -- SPEC.json OUT.json

SPEC: {"fps": F, "frame": K (0-based frame of the animation to sample), "files": [PATH.bvh | PATH.glb, ...],
"joints": [NAME, ...]}. OUT: per file {armatures: [{name, bones, frame_range, heads: {bone: [x, y, z]}}]},
positions in Blender's world (Z up, metres; BVH imported with global_scale 0.01: cm -> m).
Shims for Debian's Blender 3.4 on Python 3.11 / NumPy 2: ``numpy.bool`` (glTF importer) and ``open`` mode 'rU'
(BVH importer).
"""
import builtins
import json
import sys

import warnings

import numpy

with warnings.catch_warnings():
    warnings.simplefilter('ignore')
    if not isinstance(getattr(numpy, 'bool', None), type):
        numpy.bool = bool  # the glTF importer of Blender 3.4 uses the alias NumPy 1.24 removed
_open = builtins.open


def _open_without_u(file, mode='r', *args, **kwargs):
    return _open(file, mode.replace('U', '') if isinstance(mode, str) else mode, *args, **kwargs)


builtins.open = _open_without_u  # the BVH importer of Blender 3.4 opens files with mode 'rU'

import bpy  # noqa: E402


def _clear():
    bpy.ops.wm.read_factory_settings(use_empty=True)


def _import(path: str, fps: float):
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = round(fps), round(fps) / fps
    before = set(bpy.data.objects)
    if path.endswith('.bvh'):
        bpy.ops.import_anim.bvh(filepath=path, global_scale=0.01, frame_start=1, use_fps_scale=False,
                                update_scene_fps=False, update_scene_duration=True, rotate_mode='NATIVE',
                                axis_forward='-Z', axis_up='Y')
    else:
        bpy.ops.import_scene.gltf(filepath=path)
    return [o for o in bpy.data.objects if o not in before and o.type == 'ARMATURE']


def main():
    argv = sys.argv[sys.argv.index('--') + 1:]
    spec = json.loads(open(argv[0]).read())
    report = {}
    for path in spec['files']:
        _clear()
        arms = []
        for arm in _import(path, spec['fps']):
            action = arm.animation_data.action if arm.animation_data else None
            start, end = (float(v) for v in action.frame_range) if action else (0.0, 0.0)
            bpy.context.scene.frame_set(int(round(start)) + int(spec['frame']))
            bpy.context.view_layer.update()
            heads = {}
            for pb in arm.pose.bones:
                if any(pb.name == j or pb.name.endswith('_' + j) for j in spec['joints']):
                    heads[pb.name] = list(arm.matrix_world @ pb.head)
            arms.append({'name': arm.name, 'bones': len(arm.data.bones), 'frame_range': [start, end],
                         'heads': heads})
        report[path] = {'armatures': arms}
    with open(argv[1], 'w') as f:
        f.write(json.dumps(report))


main()
