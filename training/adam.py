"""Adam as ``torch.optim.Adam`` computes it on the CPU, without ``torch.optim``.

``torch.optim``'s optimisers import torch's compiler front end (``torch._dynamo``, 1.2 s
here) when the first one is made, to keep it out of their methods, as
``torch.use_deterministic_algorithms`` does to tell the compiler's settings: a training
that compiles nothing waited for it. This is the update ``torch.optim.Adam`` makes with
its defaults on CPU tensors (one tensor at a time, no AMSGrad, L2 weight decay added to
the gradient), the same operations in the same order — the same bits, checked step for
step against it in ``tests/test_training.py``.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch


def deterministic() -> None:
    """torch's deterministic kernels on (what ``torch.use_deterministic_algorithms(True)``
    sets for them, without importing the compiler to tell it the same)."""
    torch._C._set_deterministic_algorithms(True)


class Adam:
    """Adam over *params*; :meth:`step` takes the learning rate of that step (the
    schedule is the caller's: ``lr_factor`` in the loop)."""

    def __init__(
        self,
        params: Iterable[torch.nn.Parameter],
        *,
        weight_decay: float = 0.0,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        self.params = list(params)
        self.weight_decay = weight_decay
        self.beta1, self.beta2 = betas
        self.eps = eps
        # per parameter, made at its first step: (step count, first moment, second moment)
        self.state: dict[int, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self, lr: float) -> None:
        """One update of every parameter that has a gradient."""
        beta1, beta2 = self.beta1, self.beta2
        for i, param in enumerate(self.params):
            grad = param.grad
            if grad is None:
                continue
            if i not in self.state:
                self.state[i] = (
                    torch.tensor(0.0),
                    torch.zeros_like(param, memory_format=torch.preserve_format),
                    torch.zeros_like(param, memory_format=torch.preserve_format),
                )
            step_t, exp_avg, exp_avg_sq = self.state[i]
            step_t += 1
            if self.weight_decay != 0:
                grad = grad.add(param, alpha=self.weight_decay)
            exp_avg.lerp_(grad, 1 - beta1)
            exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            step = step_t.item()
            bias_correction1 = 1 - beta1**step
            bias_correction2 = 1 - beta2**step
            step_size = lr / bias_correction1
            bias_correction2_sqrt = bias_correction2**0.5
            denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(self.eps)
            param.addcdiv_(exp_avg, denom, value=-step_size)
