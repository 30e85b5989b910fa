"""Inference: frame sources, person detection/tracking, batched estimation, smoothing and result files."""
from common.inference.detection import (BoxFileError, Detections, YoloPersonDetector, greedy_nms,
                                        load_bbox_file, select_people)
from common.inference.estimator import CropCamera, Estimator
from common.inference.io import Frame, FrameSourceError, open_source
from common.inference.pipeline import PipelineOptions, run_pipeline
from common.inference.results import find_sequences, scan_results, vertices_from_params
from common.inference.smoothing import OneEuroFilter, ParamSmoother
from common.inference.tracking import IoUTracker
from common.inference.writers import assemble_results, person_stem

__all__ = ['BoxFileError', 'Detections', 'YoloPersonDetector', 'greedy_nms', 'load_bbox_file', 'select_people',
           'CropCamera', 'Estimator', 'Frame', 'FrameSourceError', 'open_source', 'PipelineOptions',
           'run_pipeline', 'find_sequences', 'scan_results', 'vertices_from_params', 'OneEuroFilter',
           'ParamSmoother', 'IoUTracker', 'assemble_results', 'person_stem']
