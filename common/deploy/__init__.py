"""Deployment: the network as an ONNX graph (``export``), its metadata (``metadata``, torch-free) and an
onnxruntime estimator with the torch ``Estimator``'s interface (``runtime``). See README "ONNX / deployment"."""
