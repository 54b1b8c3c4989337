"""Re-initialise a model's weights the way a write-up did, for reproducing its recipe.

Every builder leaves PyTorch's default initialisation in place; ``init_weights(model, scheme)`` then applies
one of these schemes to the weight of every Linear and Conv2d layer, leaving biases, BatchNorm and the rest
as they are:

    'kaiming_uniform'   ``nn.init.kaiming_uniform_(m.weight)``: U(-b, b), b = sqrt(6 / fan_in) (a = 0), as the
                        AlexNet write-up's ``init_weights`` ("He initialisation, since the activations are ReLU")
    'xavier_uniform'    ``nn.init.xavier_uniform_(m.weight)``: U(-b, b), b = sqrt(6 / (fan_in + fan_out)), the
                        ``init_weights`` of Dive into Deep Learning's CNN chapters, which the first write-up's
                        ``init_net`` (not shown there) followed
    'default'           nothing: PyTorch's default (the weight and bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
                        torchvision's kaiming_normal_ for the ResNets' convs)
"""
from .cnn import _namespace

INIT_SCHEMES = ("default", "kaiming_uniform", "xavier_uniform")


def init_weights(model, scheme, nn=None):
    """Apply ``scheme`` (one of INIT_SCHEMES) to ``model``, built from the namespace ``nn`` (ours by default,
    or ``torch.nn``), in place; returns the model."""
    if scheme not in INIT_SCHEMES:
        raise ValueError(f"unknown init scheme {scheme!r}; known schemes: {', '.join(INIT_SCHEMES)}")
    nn = _namespace(nn)
    if scheme == "default":
        return model
    initialise = getattr(nn.init, f"{scheme}_")
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            initialise(module.weight)
    return model
