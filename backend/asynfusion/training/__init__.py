"""Training, distillation and evaluation of AsynFusion on BEAT2."""
