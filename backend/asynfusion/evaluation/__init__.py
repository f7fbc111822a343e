"""Evaluation of generated motion: metrics, the motion autoencoder behind the Frechet distance,
articulation and body statistics, baselines, and the ``asynfusion eval`` run over held-out takes."""
