"""Training and evaluation engines: ``trainer`` (the loop), ``train_setup``, ``snapshots``, ``optim``,
``train_log`` and ``tester``. Import the module you need; this package imports nothing on its own, so
``common.engine.tester`` does not pull in the training side (and its dataset registry)."""
