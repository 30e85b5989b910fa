"""Small building blocks shared by the SMPLer-X heads (SPEC §1.3).

The `make_*_layers` helpers return `nn.Sequential`s whose child indices reproduce the released
checkpoint layout (conv at 0, BN at 1, ReLU at 2, next conv at 3, ...), so the heads' parameter
names match `state_dict_*.tsv` exactly.

Coordinate conventions: soft-argmax results are in heatmap-cell index units (x over W, y over H,
z over D, no half-cell offset); `sample_joint_features` expects the same units.
"""
import logging
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from common.nets.inference_weights import active_inference_dtype, cached_weights

logger = logging.getLogger(__name__)

__all__ = [
    'make_conv_layers', 'make_deconv_layers', 'make_linear_layers',
    'soft_argmax_2d', 'soft_argmax_3d', 'sample_joint_features', 'run_deconv_stack',
    'ConvGemmLinear', 'use_conv_gemm', 'sample_points_gather',
]


def make_conv_layers(feat_dims: Sequence[int], kernel: int = 3, stride: int = 1, padding: int = 1,
                     bnrelu_final: bool = True) -> nn.Sequential:
    """Conv2d (with bias) stack; BatchNorm2d + ReLU after each conv except, optionally, the last."""
    layers = []
    for i in range(len(feat_dims) - 1):
        layers.append(nn.Conv2d(feat_dims[i], feat_dims[i + 1], kernel_size=kernel, stride=stride,
                                padding=padding))
        if i < len(feat_dims) - 2 or bnrelu_final:
            layers.append(nn.BatchNorm2d(feat_dims[i + 1]))
            layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def make_deconv_layers(feat_dims: Sequence[int], bnrelu_final: bool = True) -> nn.Sequential:
    """ConvTranspose2d(k=4, s=2, p=1, no bias) + BatchNorm2d + ReLU stages; each doubles H and W."""
    layers = []
    for i in range(len(feat_dims) - 1):
        layers.append(nn.ConvTranspose2d(feat_dims[i], feat_dims[i + 1], kernel_size=4, stride=2,
                                         padding=1, output_padding=0, bias=False))
        if i < len(feat_dims) - 2 or bnrelu_final:
            layers.append(nn.BatchNorm2d(feat_dims[i + 1]))
            layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def make_linear_layers(feat_dims: Sequence[int], relu_final: bool = True) -> nn.Sequential:
    """Linear stack with ReLU between layers (and after the last one only if `relu_final`)."""
    layers = []
    for i in range(len(feat_dims) - 1):
        layers.append(nn.Linear(feat_dims[i], feat_dims[i + 1]))
        if i < len(feat_dims) - 2 or relu_final:
            layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def _expectation(prob: torch.Tensor, dim_sizes: Sequence[int]) -> list:
    """Expected index along each trailing axis of a normalised `prob (B, J, *dim_sizes)`."""
    coords = []
    n = len(dim_sizes)
    for axis, size in enumerate(dim_sizes):
        # marginal over every other spatial axis -> (B, J, size)
        other = tuple(2 + a for a in range(n) if a != axis)
        marginal = prob.sum(dim=other) if other else prob
        idx = torch.arange(size, device=prob.device, dtype=prob.dtype)
        coords.append((marginal * idx).sum(dim=-1))
    return coords


def soft_argmax_3d(heatmap: torch.Tensor) -> tuple:
    """Soft-argmax over a volume.

    Args:
        heatmap: (B, J, D, H, W) logits.
    Returns:
        coords (B, J, 3) as (x in [0, W-1], y in [0, H-1], z in [0, D-1]) cell-index units, and
        prob (B, J, D, H, W), the softmax over each joint's D*H*W cells.
    """
    B, J, D, H, W = heatmap.shape
    prob = F.softmax(heatmap.reshape(B, J, D * H * W), dim=2).reshape(B, J, D, H, W)
    z, y, x = _expectation(prob, (D, H, W))
    return torch.stack((x, y, z), dim=2), prob


def soft_argmax_2d(heatmap: torch.Tensor) -> torch.Tensor:
    """Soft-argmax over an image: heatmap (B, J, H, W) logits -> (B, J, 2) as (x, y) cell units."""
    B, J, H, W = heatmap.shape
    prob = F.softmax(heatmap.reshape(B, J, H * W), dim=2).reshape(B, J, H, W)
    y, x = _expectation(prob, (H, W))
    return torch.stack((x, y), dim=2)


def sample_joint_features(feat: torch.Tensor, joint_xy: torch.Tensor, fast: bool = False) -> torch.Tensor:
    """Bilinearly sample features at joint locations.

    Args:
        feat: (B, C, H, W) feature map.
        joint_xy: (B, J, 2) locations in feature-cell units (x over W, y over H).
        fast: use `sample_points_gather`: the same values in fp32; no full-map fp32 copy under
            autocast, where it is also slightly more exact (the plain path rounds the sampling grid
            to `feat`'s dtype). Result dtype: float32 under autocast (as grid_sample), else feat's.
    Returns:
        (B, J, C); zero padding outside the map; `align_corners=True` (cell centres at integers).
    """
    if fast:
        out = sample_points_gather(feat, joint_xy)
        return out if torch.is_autocast_enabled(feat.device.type) else out.to(feat.dtype)
    B, C, H, W = feat.shape
    scale = joint_xy.new_tensor([2.0 / (W - 1), 2.0 / (H - 1)])
    grid = (joint_xy * scale - 1.0)[:, :, None, :].to(feat.dtype)  # (B, J, 1, 2) in [-1, 1]
    sampled = F.grid_sample(feat, grid, mode='bilinear', padding_mode='zeros', align_corners=True)
    return sampled[:, :, :, 0].transpose(1, 2)  # (B, C, J, 1) -> (B, J, C)


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
    if feat.dim() == 4 and feat.is_contiguous(memory_format=torch.channels_last) and C > 1:
        flat = feat.permute(0, 2, 3, 1).reshape(B, H * W, C)  # a view
        vals = flat.gather(1, idx[:, :, None].expand(B, J * 4, C))  # (B, 4J, C)
    else:
        flat = feat.reshape(B, C, H * W)
        vals = flat.gather(2, idx[:, None, :].expand(B, C, J * 4)).transpose(1, 2)  # (B, 4J, C)
    return (vals.reshape(B, J, 4, C).float() * w[..., None]).sum(dim=2)


def run_deconv_stack(stack: nn.Sequential, x: torch.Tensor, fast: bool = True,
                     cache_owner: nn.Module = None) -> torch.Tensor:
    """Apply a `make_deconv_layers` stack, fast on CPU (same result as `stack(x)`).

    The input is made channels_last (oneDNN's transposed convolution is ~1.5-2x faster there).
    Outside training, each ConvTranspose2d + eval BatchNorm2d pair is folded into one
    transposed convolution with bias (weight * gamma / sqrt(var + eps), beta - mean * scale),
    saving a full pass over the largest activations. In training the modules run as they are
    (batch statistics, running-stat updates). `fast=False` runs `stack(x)` unchanged (reference path).
    `cache_owner`: a module with an `inference_dtype` attribute (see `common.nets.inference_weights`);
    when its cache is active the folded weights are computed once and kept in that dtype.
    """
    if not fast:
        return stack(x)
    x = x.contiguous(memory_format=torch.channels_last)
    if stack.training or not isinstance(stack, nn.Sequential):
        return stack(x)
    layers = list(stack)
    i = 0
    while i < len(layers):
        layer = layers[i]
        nxt = layers[i + 1] if i + 1 < len(layers) else None
        if (isinstance(layer, nn.ConvTranspose2d) and isinstance(nxt, nn.BatchNorm2d)
                and nxt.track_running_stats and nxt.running_mean is not None):
            dtype = None if cache_owner is None else active_inference_dtype(cache_owner, x)
            if dtype is None:
                weight, bias = _fold_deconv_bn(layer, nxt)
            else:
                weight, bias = cached_weights(
                    cache_owner, f'deconv{i}', (layer.weight, layer.bias, nxt.weight, nxt.bias,
                                                nxt.running_mean, nxt.running_var),
                    dtype, lambda: _fold_deconv_bn(layer, nxt, torch.channels_last))
            x = F.conv_transpose2d(x, weight, bias, stride=layer.stride, padding=layer.padding,
                                   output_padding=layer.output_padding, groups=layer.groups,
                                   dilation=layer.dilation)
            i += 2
        else:
            x = layer(x)
            i += 1
    return x


def _fold_deconv_bn(deconv: nn.ConvTranspose2d, bn: nn.BatchNorm2d,
                    memory_format: torch.memory_format = torch.preserve_format):
    """Eval BatchNorm folded into the preceding transposed convolution -> (weight, bias).

    `memory_format=torch.channels_last` gives the weight the layout oneDNN converts it to for a
    channels_last input (worth it only when the result is cached).
    """
    scale = bn.weight * torch.rsqrt(bn.running_var + bn.eps)  # (Cout,)
    weight = deconv.weight * scale[None, :, None, None]  # ConvTranspose weight is (Cin, Cout, k, k)
    bias = bn.bias - bn.running_mean * scale
    if deconv.bias is not None:
        bias = bias + deconv.bias * scale
    if memory_format is not torch.preserve_format:
        weight = weight.contiguous(memory_format=memory_format)
    return weight, bias


class ConvGemmLinear(nn.Linear):
    """`nn.Linear` (same parameters and state-dict names) whose CPU path is a 1x1 convolution.

    On the CPU, PyTorch sends convolutions to oneDNN and `F.linear` to the BLAS GEMM; for the
    ViT's token GEMMs the oneDNN path is the faster one on this class of machine (measure with
    `benchmarks/model_throughput.py --plain`). The input (..., Cin) is viewed, without a copy, as a
    channels_last (1, Cin, N, 1) image. Other devices, `torch.compile` tracing and `conv_gemm = False`
    use `F.linear`.
    Works with autograd and autocast. `inference_dtype` (set by `Model.prepare_for_inference`)
    enables the cached low-precision weights of `common.nets.inference_weights`.
    """
    conv_gemm = True
    inference_dtype = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight, bias = self.weight, self.bias
        # the cache belongs to the fast path: `conv_gemm = False` (benchmark --plain) skips it too
        use_cache = self.inference_dtype is not None and self.conv_gemm
        dtype = active_inference_dtype(self, x) if use_cache else None
        if dtype is not None:
            weight, bias = cached_weights(self, 'wb', (weight, bias), dtype, lambda: (weight, bias))
        # under torch.compile, inductor lowers (and with freezing pre-packs) the linear itself; the 1x1
        # convolution view breaks its frozen-weight convolution once the batch size is symbolic
        if not self.conv_gemm or x.device.type != 'cpu' or torch.compiler.is_compiling():
            return F.linear(x, weight, bias)
        lead = x.shape[:-1]
        x4 = x.reshape(1, -1, 1, x.shape[-1]).permute(0, 3, 1, 2)  # (1, Cin, N, 1) channels_last view
        y = F.conv2d(x4, weight[:, :, None, None], bias)  # (1, Cout, N, 1)
        return y.permute(0, 2, 3, 1).reshape(*lead, -1)


def use_conv_gemm(module: nn.Module) -> nn.Module:
    """Replace every plain `nn.Linear` inside `module` by a `ConvGemmLinear` sharing its parameters."""
    for name, child in list(module.named_children()):
        if type(child) is nn.Linear:
            new = ConvGemmLinear.__new__(ConvGemmLinear)
            nn.Module.__init__(new)
            new.in_features, new.out_features = child.in_features, child.out_features
            new.weight, new.bias = child.weight, child.bias
            setattr(module, name, new)
        else:
            use_conv_gemm(child)
    return module
