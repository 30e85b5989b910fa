"""Blender script: convert a glTF (.glb) export to FBX (there is no open FBX writer; Blender has one).

    blender -b --factory-startup --python tools/blender_to_fbx.py -- scene.glb scene.fbx

Imports the glb with Blender's glTF importer and writes FBX with its exporter (armature, skinned mesh, the
baked animation, morph targets as shape keys). Works with Debian's Blender 3.4 (the ``numpy.bool`` shim below).
"""
import sys

import warnings

import numpy

with warnings.catch_warnings():
    warnings.simplefilter('ignore')
    if not isinstance(getattr(numpy, 'bool', None), type):
        numpy.bool = bool  # the glTF importer of Blender 3.4 uses the alias NumPy 1.24 removed

import bpy  # noqa: E402

src, dst = sys.argv[sys.argv.index('--') + 1:][:2]
bpy.ops.wm.read_factory_settings(use_empty=True)
bpy.ops.import_scene.gltf(filepath=src)
bpy.ops.export_scene.fbx(filepath=dst, use_selection=False, add_leaf_bones=False, bake_anim=True,
                         object_types={'ARMATURE', 'MESH', 'CAMERA'})
print(f'wrote {dst}')
