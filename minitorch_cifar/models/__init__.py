"""The CIFAR-10 models by name: ``get_model('cnn3')``, ``list_models()``.

Every builder takes ``nn=`` (ours by default; ``torch.nn`` builds the same model in PyTorch, with
equal state_dict keys, so weights move between the two with ``load_state_dict``).
"""
from .cnn import alexnet, cnn2, cnn3
from .resnet import resnet10, resnet_classes

_MODELS = {"cnn2": cnn2, "cnn3": cnn3, "alexnet": alexnet, "resnet10": resnet10}


def list_models():
    """The names ``get_model`` knows."""
    return sorted(_MODELS)


def get_model(name, **kwargs):
    """Build the model called ``name`` (keyword arguments such as num_classes= and nn= go to its builder)."""
    if name not in _MODELS:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(list_models())}")
    return _MODELS[name](**kwargs)
