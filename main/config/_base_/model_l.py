"""SMPLer-X-L model size: ViT-L encoder initialised from ViTPose-large (SPEC §1.2)."""
model_type = 'smpler_x_l'  # informational (the model size comes from feat_dim and encoder below)
feat_dim = 1024  # encoder embedding width C; all heads take C-channel features
encoder = dict(
    depth=24,  # transformer blocks
    num_heads=16,  # head dim = feat_dim / num_heads = 1024 / 16 = 64
    mlp_ratio=4.0,  # MLP hidden width = 4 * feat_dim
    drop_path_rate=0.5,  # stochastic depth, linearly 0 -> 0.5 over the blocks (training only)
    patch_size=16,  # 256x192 input -> 16x12 patch grid
    patch_padding=2,  # the patch conv pads 2 px (ViTPose quirk; shifts the grid, must be kept)
    num_task_tokens=31,  # shape, cam, expr, jaw, 2 unused hand tokens, 25 body-pose tokens
)
encoder_pretrained_model_path = 'vitpose_large.pth'  # ViTPose weights, file name under pretrained_model_dir
