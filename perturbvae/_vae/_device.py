"""The torch device a PerturbedVAE trains on: checked before any work, ``"auto"`` resolved."""

import torch


def check_device(device):
    """ValueError naming ``device`` unless torch can place tensors there."""
    if isinstance(device, str) and device == "auto":
        return
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError, TypeError) as exc:
        raise ValueError(
            f"device={device!r} is not a torch device ({str(exc).splitlines()[0]}); use "
            "'auto', 'cpu', 'cuda' or 'cuda:N'."
        ) from None
    if dev.type == "cpu":
        return
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r}: CUDA is not available on this machine; use "
                         "device='auto' or 'cpu'.")
    try:
        probe = torch.empty(1, device=dev)
    except Exception as exc:  # noqa: BLE001 - any failure: the device is unusable
        raise ValueError(f"device={device!r} is not usable on this machine "
                         f"({str(exc).splitlines()[0]}).") from None
    if probe.is_meta:
        raise ValueError(f"device={device!r} holds no data (tensors without values) and "
                         "cannot train or embed; use 'auto', 'cpu' or 'cuda'.")


def resolve_device(device):
    """``"auto"`` -> ``"cuda"`` when available, else ``"cpu"``."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return str(device)
