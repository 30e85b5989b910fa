"""ViTPose-style encoder with prepended task tokens (SPEC §1.2).

Parameter names follow the released checkpoints: `patch_embed.proj`, `pos_embed`, `task_tokens`,
`blocks.{i}.{norm1,attn.qkv,attn.proj,norm2,mlp.fc1,mlp.fc2}`, `last_norm`. Blocks are timm's
`vision_transformer.Block` (pre-norm, fused scaled-dot-product attention, exact GELU).
"""
import logging
from functools import partial
from typing import Tuple

import torch
from timm.layers import trunc_normal_
from timm.models.vision_transformer import Block
from torch import nn


logger = logging.getLogger(__name__)

__all__ = ['PatchEmbed', 'ViTEncoder', 'NUM_TASK_TOKENS']

# 1 shape + 1 cam + 2 face (expr, jaw) + 2 hand (never consumed) + 25 body-pose tokens.
NUM_TASK_TOKENS = 31
LN_EPS = 1e-6


class PatchEmbed(nn.Module):
    """Conv patchifier: (B, 3, 256, 192) -> (B, 192, C) tokens on a 16x12 grid.

    The 2-pixel zero padding (ViTPose's formula for ratio 1) shifts the grid by 2 px and is kept
    for checkpoint fidelity: (256 + 4 - 16) // 16 + 1 = 16 rows, (192 + 4 - 16) // 16 + 1 = 12 cols.
    """

    def __init__(self, img_size: Tuple[int, int] = (256, 192), patch_size: int = 16, padding: int = 2,
                 in_chans: int = 3, embed_dim: int = 384):
        super().__init__()
        self.grid_size = tuple((s + 2 * padding - patch_size) // patch_size + 1 for s in img_size)
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size,
                              padding=padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.proj(x)  # (B, C, Hp, Wp)
        return x.flatten(2).transpose(1, 2)  # (B, Hp*Wp, C), row-major over the grid


class ViTEncoder(nn.Module):
    """ViT with task tokens.

    Input (B, 3, 256, 192) RGB in [0, 1]; output `(img_feat (B, C, 16, 12), task_tokens (B, 31, C))`.
    Patch tokens get `pos_embed[:, 1:] + pos_embed[:, :1]` (the legacy cls slot is added to every
    patch; there is no cls token); task tokens are prepended afterwards without positional embedding.
    """

    def __init__(self, embed_dim: int, depth: int, num_heads: int, mlp_ratio: float = 4.0,
                 drop_path_rate: float = 0.0, img_size: Tuple[int, int] = (256, 192),
                 patch_size: int = 16, patch_padding: int = 2,
                 num_task_tokens: int = NUM_TASK_TOKENS, qkv_bias: bool = True):
        super().__init__()
        patch_embed = PatchEmbed(img_size, patch_size, patch_padding, 3, embed_dim)
        num_patches = patch_embed.grid_size[0] * patch_embed.grid_size[1]
        # registration order = checkpoint key order: task_tokens, pos_embed, patch_embed, blocks, last_norm
        self.task_tokens = nn.Parameter(torch.zeros(1, num_task_tokens, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, num_patches + 1, embed_dim))
        self.patch_embed = patch_embed
        # stochastic depth rate grows linearly 0 -> drop_path_rate over the blocks
        dpr = [drop_path_rate * i / (depth - 1) if depth > 1 else 0.0 for i in range(depth)]
        norm_layer = partial(nn.LayerNorm, eps=LN_EPS)
        self.blocks = nn.ModuleList([
            Block(embed_dim, num_heads, mlp_ratio=mlp_ratio, qkv_bias=qkv_bias, drop_path=dpr[i],
                  norm_layer=norm_layer, act_layer=nn.GELU)
            for i in range(depth)])
        self.last_norm = norm_layer(embed_dim)
        self.num_task_tokens = num_task_tokens

    def init_weights(self) -> None:
        """ViT init: trunc-normal(0.02) Linear weights / zero bias, LayerNorm 1/0, tokens trunc-normal."""
        def _init(m):
            if isinstance(m, nn.Linear):
                trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        self.apply(_init)
        trunc_normal_(self.pos_embed, std=0.02)
        trunc_normal_(self.task_tokens, std=0.02)

    def forward(self, img: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        B = img.shape[0]
        Hp, Wp = self.patch_embed.grid_size
        x = self.patch_embed(img)  # (B, Hp*Wp, C)
        x = x + self.pos_embed[:, 1:] + self.pos_embed[:, :1]
        x = torch.cat((self.task_tokens.expand(B, -1, -1), x), dim=1)  # (B, T + Hp*Wp, C)
        for blk in self.blocks:
            x = blk(x)
        x = self.last_norm(x)
        T = self.num_task_tokens
        tokens = x[:, :T]  # (B, T, C)
        feat = x[:, T:].transpose(1, 2).reshape(B, -1, Hp, Wp)  # (B, C, Hp, Wp)
        return feat, tokens
