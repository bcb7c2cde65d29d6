"""Where a training step's time goes: a torch.profiler account of PerturbedVAE.fit's steps.

For a machine with a GPU (it also runs on a CPU, without the device columns):

    python benchmarks/profile_gpu.py --device cuda                    # batch 128
    python benchmarks/profile_gpu.py --device cuda --batch-size auto
    python benchmarks/profile_gpu.py --device cuda --trace trace.json # + a Chrome trace

It profiles ``--steps`` training steps of ``PerturbedVAE.fit`` (after
``--skip`` steps of warm-up) and the same number of steps of a hand-written
loop with the same network, loss and Adam kernel, and prints per step:

- wall time (from one step's start to the next);
- torch ops launched from Python (top-level aten calls) and the host time
  inside them; the rest of the wall time is Python: skorch, callbacks, our code;
- device kernels, their busy time, and the launch gap (wall minus busy: time
  the device waits for the host);
- host syncs: CUDA runtime calls that block the host (stream/device/event
  synchronize, synchronous memcpy) and device-to-host copies.

Read it with ``--sort`` to list the ops that cost most host time.
"""

import argparse
import copy

import numpy as np
import torch
from skorch.callbacks import Callback
from torch.profiler import ProfilerActivity, profile, schedule

from perturbvae import PerturbedVAE
from perturbvae._vae._steps import adam_options, resolve_batch_size, scaled_lr

_SYNC_CALLS = ("cudaStreamSynchronize", "cudaDeviceSynchronize", "cudaEventSynchronize",
               "cudaMemcpy", "cudaStreamWaitEvent")


class _StepProfiler(Callback):
    prof = None  # a class attribute: the estimator deep-copies its callbacks

    def on_batch_end(self, net, training=False, **kwargs):
        if training:
            _StepProfiler.prof.step()


def _activities(device):
    acts = [ProfilerActivity.CPU]
    if str(device).startswith("cuda"):
        acts.append(ProfilerActivity.CUDA)
    return acts


def _account(prof, n_steps, label):
    events = prof.events()
    steps = [e for e in events if e.name.startswith("ProfilerStep")]
    wall = sum(e.time_range.elapsed_us() for e in steps) / max(len(steps), 1)
    top = [e for e in events if e.cpu_parent is not None
           and e.cpu_parent.name.startswith("ProfilerStep")]
    kernels = [e for e in events if e.device_type == torch.autograd.DeviceType.CUDA]
    busy = sum(e.time_range.elapsed_us() for e in kernels) / n_steps
    syncs = [e for e in events if e.name.startswith(_SYNC_CALLS) and "Async" not in e.name]
    d2h = [e for e in events if "DtoH" in e.name or "Device -> Host" in e.name]
    # Host time in the ops called directly in a step (the optimiser's step and
    # autograd's backward count as one op each, their inner ops inside them).
    op_host = sum(e.time_range.elapsed_us() for e in top) / n_steps
    print(f"{label}: {len(steps)} steps profiled")
    print(f"  wall per step            {wall:9.1f} us")
    print(f"  top-level torch calls    {len(top) / n_steps:9.1f} per step, "
          f"{op_host:9.1f} us host time")
    print(f"  Python and framework     {wall - op_host:9.1f} us (wall - torch op time)")
    if kernels:
        print(f"  device kernels           {len(kernels) / n_steps:9.1f} per step, "
              f"{busy:9.1f} us busy")
        print(f"  launch gap               {wall - busy:9.1f} us (wall - busy)")
        print(f"  host syncs               {len(syncs) / n_steps:9.2f} per step "
              f"({', '.join(sorted({e.name for e in syncs})) or 'none'})")
        print(f"  device-to-host copies    {len(d2h) / n_steps:9.2f} per step")
    return wall


def profile_fit(X, args, n_steps):
    sched = schedule(wait=0, warmup=args.skip, active=n_steps, repeat=1)
    with profile(activities=_activities(args.device), schedule=sched) as prof:
        _StepProfiler.prof = prof
        est = PerturbedVAE(n_components=8, hidden_layer_sizes=args.hidden,
                           batch_size=args.batch_size, max_epochs=1, device=args.device,
                           random_state=0, compile=args.compile,
                           callbacks=[_StepProfiler()])
        est.fit(X)
    return prof, est


def profile_handwritten(X, args, n_steps, ref):
    device = args.device
    batch = resolve_batch_size(args.batch_size, len(X), device)
    module = copy.deepcopy(ref.net_.module_).train()
    potential = ref.potential_
    opts = {k: v for k, v in adam_options(device).items() if v is not None}
    opt = torch.optim.Adam(module.parameters(),
                           lr=scaled_lr(1e-3, args.batch_size, batch), **opts)
    Xt = torch.as_tensor(X, dtype=torch.float32, device=device)
    Xs = Xt[torch.randperm(len(X)).to(device)]
    total = torch.zeros((), device=device)
    sched = schedule(wait=0, warmup=args.skip, active=n_steps, repeat=1)
    with profile(activities=_activities(device), schedule=sched) as prof:
        for i in range(args.skip + n_steps):
            xb = Xs[i * batch:(i + 1) * batch]
            eps = torch.randn(xb.shape[0], 8, device=device)
            out, mu, logvar, z = module(xb, eps)
            loss = (module.reconstruction_nll(xb, out) + module.kl_standard_normal(mu, logvar)
                    + potential.expected(mu, logvar, z)).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.detach()
            prof.step()
    float(total)
    return prof


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--batch-size", default="128")
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--skip", type=int, default=20)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--hidden", default="256,128")
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--sort", type=int, default=15, help="list the N costliest ops of fit")
    ap.add_argument("--trace", default=None, help="write fit's Chrome trace here")
    args = ap.parse_args()
    args.hidden = tuple(int(h) for h in args.hidden.split(","))
    if args.batch_size != "auto":
        args.batch_size = int(args.batch_size)
    torch.set_num_threads(1)
    rng = np.random.RandomState(0)
    X = np.tanh(rng.randn(args.rows, 8) @ rng.randn(8, 64)) + 0.1 * rng.randn(args.rows, 64)
    batch = resolve_batch_size(args.batch_size, len(X), args.device)
    if (args.skip + args.steps) * batch > len(X):
        raise SystemExit("--rows too small for --skip + --steps batches of one epoch")
    name = torch.cuda.get_device_name() if str(args.device).startswith("cuda") else "CPU"
    print(f"device {args.device} ({name}), torch {torch.__version__}, batch {batch}, "
          f"hidden {args.hidden}")

    prof, ref = profile_fit(X, args, args.steps)
    fit_wall = _account(prof, args.steps, "PerturbedVAE.fit")
    if args.trace:
        prof.export_chrome_trace(args.trace)
    hand = profile_handwritten(X, args, args.steps, ref)
    hand_wall = _account(hand, args.steps, "hand-written loop (no per-step sync)")
    print(f"fit / hand-written, time per step: {fit_wall / hand_wall:.2f}")
    on_gpu = str(args.device).startswith("cuda")
    sort_by = "self_cuda_time_total" if on_gpu else "self_cpu_time_total"
    print(prof.key_averages().table(sort_by=sort_by, row_limit=args.sort))


if __name__ == "__main__":
    main()
