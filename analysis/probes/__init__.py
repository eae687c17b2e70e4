"""Model-output probe tests: a pure Python package (no Django); torch and transformers are
imported only here, and only inside functions.

Contract: plain data in (``ProbeItem`` records, model folders or injected loaders), frozen
dataclasses out, each with ``to_dict()``; every result records its parameters, the library
versions and ``__version__``.  Pipeline: ``probeset`` (JSONL, validated, SHA-256) -> ``runner``
(greedy, batched, no remote code) -> ``stats`` (accuracy, agreement, shared errors, reference
nulls, Holm) -> ``verdict`` (rule table) -> ``report.analyse``.  Command line:
``python -m analysis.probes run``.
"""

from analysis.probes.probeset import (
    ProbeItem,
    ProbeSet,
    ProbeSetError,
    load_probe_set,
    normalise_answer,
    parse_probe_set,
)
from analysis.probes.report import ProbeReport, analyse
from analysis.probes.runner import (
    ModelAnswers,
    ModelLoadError,
    RemoteCodeRefused,
    check_no_remote_code,
    run_text_model,
)
from analysis.probes.stats import (
    PairStats,
    accuracy,
    canary_test,
    holm,
    pair_null_test,
    pair_stats,
    poisson_binomial_sf,
)
from analysis.probes.verdict import CONSISTENT, NO_EVIDENCE, STRONG, Verdict, VerdictParams, decide
from analysis.probes.version import __version__

__all__ = [
    "CONSISTENT",
    "NO_EVIDENCE",
    "STRONG",
    "ModelAnswers",
    "ModelLoadError",
    "PairStats",
    "ProbeItem",
    "ProbeReport",
    "ProbeSet",
    "ProbeSetError",
    "RemoteCodeRefused",
    "Verdict",
    "VerdictParams",
    "__version__",
    "accuracy",
    "analyse",
    "canary_test",
    "check_no_remote_code",
    "decide",
    "holm",
    "load_probe_set",
    "normalise_answer",
    "pair_null_test",
    "pair_stats",
    "parse_probe_set",
    "poisson_binomial_sf",
    "run_text_model",
]
