"""Rejection protocols: throw bad candidate layers away cheaply, with a reason."""

from evonorm.reject.fingerprint import Fingerprint, fingerprint
from evonorm.reject.protocol import Evaluation, RejectionChain, evaluate, train_layer
from evonorm.reject.stability import worst_case_grad_norm
from evonorm.reject.verdict import Verdict

__all__ = [
    "Evaluation",
    "Fingerprint",
    "RejectionChain",
    "Verdict",
    "evaluate",
    "fingerprint",
    "train_layer",
    "worst_case_grad_norm",
]
