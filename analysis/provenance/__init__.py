"""Model provenance: a pure package (no Django, no Celery; torch is never imported) comparing the
weights, configs and tokenizers of an "original" and a "suspect" model folder.

Contract: paths in, frozen dataclasses out, each with ``to_dict()``; every report records its
``Params``, ``__version__`` and the SHA-256 of every weight file and tensor.  Model files are
hostile evidence: only safetensors are read, headers are validated before any tensor byte, pickle
is never opened and remote code (``auto_map``) is refused.  Pipeline: ``reader`` (validate, hash,
stream) -> ``artefacts`` (config diff, tokenizer identity, alignment by content) -> ``compare``
(same-coordinate statistics, noise signature and verdict, shared-base delta) and ``permutation``
(Hungarian-matched, permutation-robust independence test, Fisher-combined p-values).  Command
line: ``python -m analysis.provenance compare ORIGINAL SUSPECT [--base BASE] [--json FILE]``.
"""

from analysis.provenance.artefacts import (
    Alignment,
    ConfigDiff,
    TensorPair,
    TokenizerComparison,
    TokenizerInfo,
    align_tensors,
    compare_tokenizers,
    config_diff,
    tokenizer_info,
)
from analysis.provenance.compare import (
    BaseDelta,
    Check,
    ComparisonReport,
    DeltaStats,
    NoiseSignature,
    PairStats,
    Params,
    Verdict,
    compare_models,
    noise_signature,
    pair_stats,
    spectral_ratio,
)
from analysis.provenance.permutation import (
    Combined,
    LayerTest,
    PermutationTest,
    fisher,
    hungarian_match,
    layer_test,
    permutation_test,
)
from analysis.provenance.reader import (
    FileInfo,
    ModelFileError,
    ModelFolder,
    TensorInfo,
    iter_tensors,
    open_model,
    parse_header,
    read_tensor,
)
from analysis.provenance.version import __version__

__all__ = [
    "Combined",
    "LayerTest",
    "PermutationTest",
    "fisher",
    "hungarian_match",
    "layer_test",
    "permutation_test",
    "Alignment",
    "BaseDelta",
    "Check",
    "ComparisonReport",
    "ConfigDiff",
    "DeltaStats",
    "FileInfo",
    "ModelFileError",
    "ModelFolder",
    "NoiseSignature",
    "PairStats",
    "Params",
    "TensorInfo",
    "TensorPair",
    "TokenizerComparison",
    "TokenizerInfo",
    "Verdict",
    "__version__",
    "align_tensors",
    "compare_models",
    "compare_tokenizers",
    "config_diff",
    "iter_tensors",
    "noise_signature",
    "open_model",
    "pair_stats",
    "parse_header",
    "read_tensor",
    "spectral_ratio",
    "tokenizer_info",
]
