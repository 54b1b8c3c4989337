"""The CIFAR-10 models by name: ``get_model('cnn3')``, ``list_models()``.

Every builder takes ``nn=`` (ours by default; ``torch.nn`` builds the same model in PyTorch, with
equal state_dict keys, so weights move between the two with ``load_state_dict``). ``init_weights``
re-initialises a model as a write-up did (Kaiming- or Xavier-uniform).
"""
from .cnn import alexnet, cnn1, cnn2, cnn3
from .initialization import INIT_SCHEMES, init_weights
from .mlp import mlp_final, mlp_first, softmax
from .resnet import resnet10, resnet18, resnet_classes
from .resnet9 import resnet9
from .tutorial import lenet, simplenet

_MODELS = {"cnn2": cnn2, "cnn3": cnn3, "alexnet": alexnet, "resnet10": resnet10,
           "softmax": softmax, "mlp_first": mlp_first, "mlp_final": mlp_final, "cnn1": cnn1, "lenet": lenet,
           "simplenet": simplenet, "resnet18": resnet18, "resnet9": resnet9}


def list_models():
    """The names ``get_model`` knows."""
    return sorted(_MODELS)


def get_model(name, **kwargs):
    """Build the model called ``name`` (keyword arguments such as num_classes= and nn= go to its builder)."""
    if name not in _MODELS:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(list_models())}")
    return _MODELS[name](**kwargs)
