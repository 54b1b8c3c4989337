"""Checks of the arguments that ops and layers share."""


def pair(value, what, where, minimum):
    """(value, value) for an int, or the given pair of ints as a tuple; ``what`` and ``where`` name the argument
    and the function in the error raised for anything else, or for a value below ``minimum``."""
    result = (value, value) if isinstance(value, int) else tuple(value) if isinstance(value, (tuple, list)) else ()
    if len(result) != 2 or not all(isinstance(v, int) for v in result):
        raise TypeError(f"{where}: {what} must be an int or a pair of ints, got {value!r}")
    if min(result) < minimum:
        raise ValueError(f"{where}: {what} must be at least {minimum}, got {value!r}")
    return result
