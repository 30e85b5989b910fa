"""Evaluation: pure metric functions (``metrics``) and dataset evaluators (``evaluators``)."""
from common.evaluation.evaluators import (AgoraPredictionWriter, DatasetEvaluator, EmptyTestSetError,
                                          PW3DEvaluator, WholeBodyEvaluator, build_evaluator,
                                          load_whole_body_sets)
from common.evaluation.metrics import (WHOLE_BODY_METRICS, WholeBodyMetricSets, lsp14_errors,
                                       mean_point_error, procrustes_aligned_error, rigid_align, rigid_transform,
                                       translation_aligned_error, whole_body_errors)

__all__ = ['AgoraPredictionWriter', 'DatasetEvaluator', 'EmptyTestSetError', 'PW3DEvaluator', 'WholeBodyEvaluator',
           'build_evaluator', 'load_whole_body_sets', 'WHOLE_BODY_METRICS', 'WholeBodyMetricSets', 'lsp14_errors',
           'mean_point_error', 'procrustes_aligned_error', 'rigid_align', 'rigid_transform',
           'translation_aligned_error', 'whole_body_errors']
