"""The model, optimizer, learning-rate schedule and loss of a ``RunConfig``."""
import numpy as np

from .. import models, nn, optim


def build_model(config, num_classes=10):
    """The zoo model ``config.model``, initialised by ``config.init``, on the CPU: the Trainer moves it to
    ``config.device`` (seed first for a repeatable initialisation: ``Experiment`` does)."""
    model = models.get_model(config.model, num_classes=num_classes)
    return models.init_weights(model, config.init)


def build_optimizer(config, parameters):
    if config.optimizer == "sgd":
        return optim.SGD(parameters, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay,
                         nesterov=config.nesterov)
    adam = optim.Adam if config.optimizer == "adam" else optim.AdamW
    return adam(parameters, lr=config.lr, weight_decay=config.weight_decay)


class PiecewiseLinear:
    """A LambdaLR factor linear between knots ``(epochs[i], factors[i])``, of a step counter: step k is at epoch
    ``k / steps_per_epoch``. Its attributes are plain numbers, so checkpoints save and restore it."""

    def __init__(self, epochs, factors, steps_per_epoch):
        self.epochs, self.factors = [float(e) for e in epochs], [float(f) for f in factors]
        self.steps_per_epoch = int(steps_per_epoch)

    def __call__(self, step):
        return float(np.interp(step / self.steps_per_epoch, self.epochs, self.factors))


def build_scheduler(config, optimizer, steps_per_epoch):
    """(scheduler or None, 'step' or 'epoch': whether the Trainer steps it after every batch or every epoch)."""
    lr_scheduler = optim.lr_scheduler
    if config.scheduler == "cosine":
        return lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs), "epoch"
    if config.scheduler == "step":
        return lr_scheduler.StepLR(optimizer, step_size=config.step_size, gamma=config.gamma), "epoch"
    if config.scheduler == "onecycle":
        return lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, epochs=config.epochs,
                                       steps_per_epoch=steps_per_epoch), "step"
    if config.scheduler == "piecewise":  # DAWNBench: 0 -> lr at warmup_epochs -> 0 at the last step
        shape = PiecewiseLinear([0, config.warmup_epochs, config.epochs], [0, 1, 0], steps_per_epoch)
        return lr_scheduler.LambdaLR(optimizer, shape), "step"
    return None, "epoch"


def build_loss(config):
    return nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
