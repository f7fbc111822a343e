"""Sub-commands ``train``, ``distill``, ``eval`` and ``train-ae`` of the asynfusion CLI."""

from __future__ import annotations


def _train(args) -> int:
    from . import train

    return train.run(args)


def _distill(args) -> int:
    from . import distill

    return distill.run(args)


def _eval(args) -> int:
    from . import evaluate

    return evaluate.run(args)


def _train_ae(args) -> int:
    from . import motion_ae

    return motion_ae.run(args)


def add_commands(sub) -> None:
    from . import args as arguments

    tr = sub.add_parser("train", help="train the DDIM teacher on BEAT2 (CPU, GPU or torchrun DDP)")
    arguments.train_arguments(tr)
    tr.set_defaults(run=_train)
    di = sub.add_parser("distill", help="latent-consistency distillation of a teacher into the few-step student")
    arguments.distill_arguments(di)
    di.set_defaults(run=_distill)
    ev = sub.add_parser("eval", help="metrics on held-out BEAT2 takes (JSON + table)")
    arguments.eval_arguments(ev)
    ev.set_defaults(run=_eval)
    ae = sub.add_parser("train-ae", help="train the motion autoencoder whose features the Frechet distance uses")
    arguments.ae_arguments(ae)
    ae.set_defaults(run=_train_ae)
