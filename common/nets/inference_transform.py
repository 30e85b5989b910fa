"""`optimize_for_inference`: the one place where the CPU/GPU inference fast paths live (STYLE rule 16).

The network modules (`common.nets.*`, `common.model.Model`) are exactly what the released checkpoints
describe and read like the paper. For inference, `optimize_for_inference(model, device, dtype)` returns
a copy in which a few submodules are swapped for equivalent, faster ones:

* every `ConvTranspose2d + BatchNorm2d (+ ReLU)` stack (BoxNet and HandRoI upsampling) becomes a
  `FoldedDeconvStack`: the eval BatchNorm is folded into the transposed convolution with
  `torch.nn.utils.fusion.fuse_conv_bn_eval(..., transpose=True)` and the stack runs channels_last
  (oneDNN's transposed convolution is ~1.5-2x faster there; saves a full pass over the largest maps) —
  except in bf16/fp16 on a CPU without oneDNN kernels for that dtype (``cpu_has_fast_bf16``), where torch's
  reference kernel is several times slower on channels_last than on contiguous tensors;
* every `JointSampler` (BoxNet, HandRotationNet) becomes a `GatherJointSampler`: bilinear sampling by
  gathering 4 corners (`sample_points_gather`) instead of `F.grid_sample`, which under autocast makes
  a full fp32 copy of a (B, 256, 128, 96) map to read 3 points;
* on the CPU, the ViT's `nn.Linear`s become `ConvGemmLinear`s (1x1 convolutions: oneDNN beats the BLAS
  GEMM for the token GEMMs on this class of machine);
* with `dtype` (the autocast dtype the model will run under, bf16/fp16), those linears and the folded
  deconvolutions hold their weights pre-cast to `dtype`, so autocast does not re-cast them on every
  call (the values are exactly autocast's casts of the fp32 weights).

The copy shares every untouched submodule and parameter with `model` (no extra memory for them), and
`model` itself is not modified (it can still be trained, saved or exported as it is).

The transformed model is for inference only:
* `.train()` raises `RuntimeError` (the BatchNorms are gone; the folded weights are frozen copies);
* its `state_dict()` is not the checkpoint's (the folded stacks have other names), so a strict
  `load_state_dict` into it fails with missing/unexpected keys. Load weights into the plain model and
  call `optimize_for_inference` again: the folded / pre-cast copies do not follow later weight changes;
* with `dtype` set, run it under `torch.autocast(device.type, dtype)`: outside autocast the pre-cast
  weights meet fp32 inputs and PyTorch raises a dtype-mismatch error.

Outputs match the plain model's within float rounding: fp32 ~1e-6 relative (folding changes the order
of a few multiplications; the gather sampling blends in fp32), bf16 within bf16 rounding.
"""
import copy
import logging
from typing import Dict, Optional

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from common.nets.layers import JointSampler
from common.utils import precision as precision_rules

logger = logging.getLogger(__name__)

__all__ = ['optimize_for_inference', 'compile_for_inference', 'FoldedDeconvStack', 'GatherJointSampler',
           'ConvGemmLinear', 'InferenceLinear', 'sample_points_gather']


# ------------------------------------------------------------------------------------------------
# inference-only modules


class _InferenceOnly:
    """Mixin: `.train(True)` raises (these modules have no training behaviour)."""

    def train(self, mode: bool = True):
        if mode:
            raise RuntimeError(f'{type(self).__name__} comes from optimize_for_inference and is for inference '
                               'only: train the plain model (common.model.build_model) instead')
        return nn.Module.train(self, False)


_INFERENCE_CLASSES: Dict[type, type] = {}


def _inference_class(cls: type) -> type:
    """`cls` with `_InferenceOnly`: the transformed root refuses `.train()` before any of its (partly
    shared) submodules changes mode."""
    if cls not in _INFERENCE_CLASSES:
        _INFERENCE_CLASSES[cls] = type(f'{cls.__name__}ForInference', (_InferenceOnly, cls),
                                       {'__module__': cls.__module__, '__doc__': cls.__doc__})
    return _INFERENCE_CLASSES[cls]


def _frozen(t: torch.Tensor, dtype: Optional[torch.dtype] = None,
            memory_format: torch.memory_format = torch.preserve_format) -> nn.Parameter:
    """A detached copy of `t` (cast to `dtype` when given) as a parameter without gradient."""
    with torch.no_grad():
        t = t.detach().to(dtype=dtype or t.dtype, memory_format=memory_format)
    return nn.Parameter(t, requires_grad=False)


class FoldedDeconvStack(_InferenceOnly, nn.Sequential):
    """A `make_deconv_layers` stack with each eval BatchNorm folded into its ConvTranspose2d.

    (B, Cin, H, W) -> (B, Cout, 2^n H, 2^n W), channels_last (the input is converted once) when
    ``channels_last``, else in the input's layout.
    """
    channels_last = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        for layer in self:
            x = layer(x)
        return x

    @classmethod
    def from_stack(cls, stack: nn.Sequential, dtype: Optional[torch.dtype] = None,
                   channels_last: bool = True) -> 'FoldedDeconvStack':
        layout = torch.channels_last if channels_last else torch.contiguous_format
        layers, children, i = [], list(stack), 0
        while i < len(children):
            layer, nxt = children[i], children[i + 1] if i + 1 < len(children) else None
            if isinstance(layer, nn.ConvTranspose2d) and isinstance(nxt, nn.BatchNorm2d):
                fused = fuse_conv_bn_eval(layer, nxt, transpose=True)  # a new module (deep copy)
                fused.weight = _frozen(fused.weight, dtype, layout)  # channels_last: oneDNN's weight layout
                fused.bias = _frozen(fused.bias, dtype)
                layers.append(fused)
                i += 2
            else:
                layers.append(copy.deepcopy(layer))
                i += 1
        folded = cls(*layers).eval()
        folded.channels_last = channels_last
        return folded


def _is_deconv_bn_stack(m: nn.Module) -> bool:
    kids = list(m.children()) if type(m) is nn.Sequential else []
    return any(isinstance(a, nn.ConvTranspose2d) and isinstance(b, nn.BatchNorm2d) for a, b in zip(kids, kids[1:]))


def sample_points_gather(feat: torch.Tensor, joint_xy: torch.Tensor) -> torch.Tensor:
    """`grid_sample(bilinear, zeros, align_corners=True)` at a few points, by gathering 4 corners.

    Reads only 4*J feature vectors instead of the whole map: `F.grid_sample` runs in fp32 under
    autocast, which costs a full fp32 copy of a (B, 256, 128, 96) map in BoxNet. The corner
    values are gathered in `feat`'s dtype and blended in fp32 (coordinates are kept in fp32,
    not rounded to `feat`'s dtype). Differentiable w.r.t. `feat` and `joint_xy`.

    Args:
        feat: (B, C, H, W), any memory format (channels_last is gathered without a copy).
        joint_xy: (B, J, 2) (x, y) in feature-cell units; NaN counts as outside the map.
    Returns:
        (B, J, C) float32.
    """
    B, C, H, W = feat.shape
    J = joint_xy.shape[1]
    lim = float(max(H, W) + 2)
    xy = torch.nan_to_num(joint_xy.float(), nan=-2.0).clamp(-2.0, lim)  # far-outside -> zero weight
    x, y = xy[..., 0], xy[..., 1]
    x0, y0 = x.floor(), y.floor()
    fx, fy = x - x0, y - y0
    xs = torch.stack((x0, x0 + 1, x0, x0 + 1), dim=-1)  # (B, J, 4) corners: tl, tr, bl, br
    ys = torch.stack((y0, y0, y0 + 1, y0 + 1), dim=-1)
    w = torch.stack(((1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy), dim=-1)
    inside = (xs >= 0) & (xs <= W - 1) & (ys >= 0) & (ys <= H - 1)
    w = w * inside
    idx = (ys.clamp(0, H - 1) * W + xs.clamp(0, W - 1)).long().reshape(B, J * 4)
    if feat.is_contiguous(memory_format=torch.channels_last) and C > 1:
        flat = feat.permute(0, 2, 3, 1).reshape(B, H * W, C)  # a view
        vals = flat.gather(1, idx[:, :, None].expand(B, J * 4, C))  # (B, 4J, C)
    else:
        flat = feat.reshape(B, C, H * W)
        vals = flat.gather(2, idx[:, None, :].expand(B, C, J * 4)).transpose(1, 2)  # (B, 4J, C)
    return (vals.reshape(B, J, 4, C).float() * w[..., None]).sum(dim=2)


class GatherJointSampler(_InferenceOnly, JointSampler):
    """`JointSampler` by `sample_points_gather`: (B, C, H, W), (B, J, 2) -> (B, J, C).

    Result dtype as `F.grid_sample`: float32 under autocast, else `feat`'s dtype.
    """

    def forward(self, feat: torch.Tensor, joint_xy: torch.Tensor) -> torch.Tensor:
        out = sample_points_gather(feat, joint_xy)
        return out if torch.is_autocast_enabled(feat.device.type) else out.to(feat.dtype)


class InferenceLinear(_InferenceOnly, nn.Linear):
    """`nn.Linear` holding (possibly pre-cast) weights of another linear; built by `from_linear`."""

    @classmethod
    def from_linear(cls, lin: nn.Linear, dtype: Optional[torch.dtype] = None) -> 'InferenceLinear':
        new = cls.__new__(cls)
        nn.Module.__init__(new)
        new.in_features, new.out_features = lin.in_features, lin.out_features
        # fp32: share the plain model's parameters; dtype: a frozen pre-cast copy
        new.weight = lin.weight if dtype is None else _frozen(lin.weight, dtype)
        new.bias = lin.bias if dtype is None or lin.bias is None else _frozen(lin.bias, dtype)
        return new.eval()


class ConvGemmLinear(InferenceLinear):
    """A linear computed as a 1x1 convolution (the CPU choice of `optimize_for_inference`).

    On the CPU, PyTorch sends convolutions to oneDNN and `F.linear` to the BLAS GEMM; for the ViT's
    token GEMMs the oneDNN path is the faster one on this class of machine (measure with
    `benchmarks/model_throughput.py --ab`). The input (..., Cin) is viewed, without a copy, as a
    channels_last (1, Cin, N, 1) image. Under `torch.compile` tracing it is `F.linear`: inductor lowers
    (and with freezing pre-packs) the linear itself, and the 1x1 view breaks its frozen-weight
    convolution once the batch size is symbolic.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.compiler.is_compiling():
            return F.linear(x, self.weight, self.bias)
        lead = x.shape[:-1]
        x4 = x.reshape(1, -1, 1, x.shape[-1]).permute(0, 3, 1, 2)  # (1, Cin, N, 1) channels_last view
        y = F.conv2d(x4, self.weight[:, :, None, None], self.bias)  # (1, Cout, N, 1)
        return y.permute(0, 2, 3, 1).reshape(*lead, -1)


# ------------------------------------------------------------------------------------------------
# the transform


def _shallow_copy(m: nn.Module) -> nn.Module:
    """A new module object with its own child/parameter/buffer tables (the tensors are shared)."""
    new = copy.copy(m)
    new._modules = dict(m._modules)
    new._parameters = dict(m._parameters)
    new._buffers = dict(m._buffers)
    return new


def _with_replacements(root: nn.Module, replacements: Dict[str, nn.Module]) -> nn.Module:
    """A copy of `root` with each dotted submodule name replaced; only the modules on those paths are
    copied (shallowly), everything else is shared with `root`."""
    new_root = _shallow_copy(root)
    copies = {'': new_root}
    for path, module in replacements.items():
        *parents, leaf = path.split('.')
        node, prefix = new_root, ''
        for name in parents:
            prefix = f'{prefix}.{name}' if prefix else name
            if prefix not in copies:
                copies[prefix] = _shallow_copy(node._modules[name])
                node._modules[name] = copies[prefix]
            node = copies[prefix]
        node._modules[leaf] = module
    return new_root


def optimize_for_inference(model: nn.Module, device, dtype: Optional[torch.dtype] = None) -> nn.Module:
    """The inference copy of an eval `common.model.Model` (see the module docstring for what changes).

    Args:
        model: a plain model in eval mode, already on `device` (not modified). A `torch.compile`d
            model is unwrapped, transformed and compiled again with `compile_for_inference`.
        device: the model's device (`torch.device` or str); the 1x1-convolution linears are a CPU choice.
        dtype: the autocast dtype the copy will run under (`torch.bfloat16` / `torch.float16`) to
            pre-cast weights, or None (fp32).
    Returns:
        The transformed model (eval mode, inference only; shares the untouched parameters with `model`).
    """
    device = torch.device(device)
    inner = getattr(model, '_orig_mod', None)
    if isinstance(inner, nn.Module):  # torch.compile wrapper: transform the network, compile that
        return compile_for_inference(optimize_for_inference(inner, device, dtype), device)
    if isinstance(model, _InferenceOnly):
        raise ValueError('optimize_for_inference: this model is already transformed; pass the plain model')
    if model.training:
        raise ValueError('optimize_for_inference needs an eval model: call model.eval() first '
                         '(the transformed copy cannot be trained)')
    param = next(model.parameters(), None)
    if param is not None and param.device.type != device.type:
        raise ValueError(f'optimize_for_inference: the model is on {param.device}, not {device}; '
                         'move it first (model.to(device))')
    # oneDNN runs the deconvolutions (fast, channels_last) unless a CPU lacks kernels for the low precision
    onednn_deconv = device.type != 'cpu' or dtype is None or (dtype == torch.bfloat16
                                                              and precision_rules.cpu_has_fast_bf16())
    if device.type == 'cpu' and dtype == torch.bfloat16 and not onednn_deconv:
        logger.warning(precision_rules.SLOW_BF16_WARNING)
    replacements: Dict[str, nn.Module] = {}
    skip = ()  # modules inside an already replaced stack
    for name, m in model.named_modules():
        if not name or name.startswith(skip):
            continue
        if _is_deconv_bn_stack(m):
            replacements[name] = FoldedDeconvStack.from_stack(m, dtype, channels_last=onednn_deconv)
            skip = skip + (name + '.',)
        elif type(m) is JointSampler:
            replacements[name] = GatherJointSampler().eval()
        elif type(m) is nn.Linear and name.startswith('encoder.'):
            if device.type == 'cpu':
                replacements[name] = ConvGemmLinear.from_linear(m, dtype)
            elif dtype is not None:
                replacements[name] = InferenceLinear.from_linear(m, dtype)
    new = _with_replacements(model, replacements)
    new.__class__ = _inference_class(type(model))  # still an instance of type(model); .train() raises
    kinds = sorted({type(m).__name__ for m in replacements.values()})
    logger.debug('optimize_for_inference(%s, %s): %d modules swapped (%s)', device, dtype, len(replacements),
                 ', '.join(kinds))
    return new


def compile_for_inference(model: nn.Module, device: torch.device) -> nn.Module:
    """`torch.compile(model)` for eval-mode inference on `device` (compiles lazily, on the first call).

    Works on the plain model and on an `optimize_for_inference` copy. On the CPU this also turns on
    inductor's `freezing` (a process-wide inductor setting): the weights become constants, so BatchNorm
    folding, weight casts and oneDNN weight pre-packing happen once at compile time. Measured for S32 at
    batch 8 on a 2-core CPU, interleaved with the eager model (`benchmarks/model_throughput.py --compile
    --ab`): bf16 1.08x, fp32 0.96-0.99x, after 40-80 s of compilation (and as long again when a second
    batch size makes the batch dimension symbolic). The compiled model must not be trained or have its
    weights changed afterwards.
    """
    if torch.device(device).type == 'cpu':
        import torch._inductor.config as inductor_config
        inductor_config.freezing = True
    return torch.compile(model)
