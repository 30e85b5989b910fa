"""Sub-sampling of the training/test annotation lists, per dataset (SPEC §3.4, §3.5).

An interval k keeps every k-th record of a dataset's annotation file (k = 1 keeps all). Keys follow the
original's naming: `{Name}_train_sample_interval` / `{Name}_test_sample_interval` for the HumanData sets;
UBody uses the unprefixed `train_sample_interval` / `test_sample_interval`. Every HumanData set named in
any config has a key here so that dataset code never needs a fallback default.
"""

# --- UBody (original key names, no prefix) ---
train_sample_interval = 10  # UBody training frames: every 10th
test_sample_interval = 100  # UBody evaluates only every 100th frame (SPEC §7.13)
make_same_len = False  # UBody: do not equalise its internal sub-sets

# --- HumanData sets: values of the original's 5/10/20 configs; 1 = the original's getattr default ---
BEDLAM_train_sample_interval = 5
SPEC_train_sample_interval = 1
GTA_Human2_train_sample_interval = 1
SynBody_train_sample_interval = 1
PoseTrack_train_sample_interval = 1
EgoBody_Egocentric_train_sample_interval = 1
PROX_train_sample_interval = 1
CrowdPose_train_sample_interval = 1
EgoBody_Kinect_train_sample_interval = 10
MPI_INF_3DHP_train_sample_interval = 5
RICH_train_sample_interval = 1
MuCo_train_sample_interval = 1
InstaVariety_train_sample_interval = 10
Behave_train_sample_interval = 1
UP3D_train_sample_interval = 1
ARCTIC_train_sample_interval = 10
OCHuman_train_sample_interval = 1
CHI3D_train_sample_interval = 1
RenBody_HiRes_train_sample_interval = 5
MTP_train_sample_interval = 1
HumanSC3D_train_sample_interval = 1
RenBody_train_sample_interval = 10  # 5/10/20 configs; the 32-dataset mix resets it to 1 (datasets_32.py)
FIT3D_train_sample_interval = 10
Talkshow_train_sample_interval = 10
SSP3D_train_sample_interval = 1
LSPET_train_sample_interval = 1

# Test-split intervals: the original's default 1, except ARCTIC and RenBody_HiRes, whose dataset classes
# default to 10 (SPEC §3.5).
BEDLAM_test_sample_interval = 1
SPEC_test_sample_interval = 1
GTA_Human2_test_sample_interval = 1
SynBody_test_sample_interval = 1
PoseTrack_test_sample_interval = 1
EgoBody_Egocentric_test_sample_interval = 1
PROX_test_sample_interval = 1
CrowdPose_test_sample_interval = 1
EgoBody_Kinect_test_sample_interval = 1
MPI_INF_3DHP_test_sample_interval = 1
RICH_test_sample_interval = 1
MuCo_test_sample_interval = 1
InstaVariety_test_sample_interval = 1
Behave_test_sample_interval = 1
UP3D_test_sample_interval = 1
ARCTIC_test_sample_interval = 10
OCHuman_test_sample_interval = 1
CHI3D_test_sample_interval = 1
RenBody_HiRes_test_sample_interval = 10
MTP_test_sample_interval = 1
HumanSC3D_test_sample_interval = 1
RenBody_test_sample_interval = 1
FIT3D_test_sample_interval = 1
Talkshow_test_sample_interval = 1
SSP3D_test_sample_interval = 1
LSPET_test_sample_interval = 1

# Our synthetic HumanData set (tests and the offline demo; not in the original).
Synthetic_train_sample_interval = 1
Synthetic_test_sample_interval = 1
