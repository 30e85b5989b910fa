"""SMPLer-X-S model size: ViT-S encoder initialised from ViTPose-small (SPEC §1.2)."""
model_type = 'smpler_x_s'  # informational (the model size comes from feat_dim and encoder below)
feat_dim = 384  # encoder embedding width C; all heads take C-channel features
encoder = dict(
    depth=12,  # transformer blocks
    num_heads=12,  # head dim = feat_dim / num_heads = 384 / 12 = 32
    mlp_ratio=4.0,  # MLP hidden width = 4 * feat_dim
    drop_path_rate=0.1,  # stochastic depth, linearly 0 -> 0.1 over the blocks (training only)
    patch_size=16,  # 256x192 input -> 16x12 patch grid
    patch_padding=2,  # the patch conv pads 2 px (ViTPose quirk; shifts the grid, must be kept)
    num_task_tokens=31,  # shape, cam, expr, jaw, 2 unused hand tokens, 25 body-pose tokens
)
encoder_pretrained_model_path = 'vitpose_small.pth'  # ViTPose weights, file name under pretrained_model_dir
