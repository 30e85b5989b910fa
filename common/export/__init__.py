"""Animation export of inference results: BVH and animated glTF (.glb) per tracked person (README "Animation
export"). ``exporter.export_results`` is the entry; ``rig`` (SMPL-X skeleton, numpy forward kinematics),
``tracks`` (per-track sequences from ``results.npz``), ``bvh`` and ``gltf`` (the writers)."""
