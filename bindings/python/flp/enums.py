"""The C enums of libflp as :class:`enum.IntEnum` classes.

Values are those of ``include/flp/*.h`` (the test suite checks that they
agree; the settings enums, ``FeedbackKey`` ... ``BatchKey``, against the
headers' key maps ``FLP_<HANDLE>_KEY_MAP`` and ``..._KEY_MAP_EXPERIMENTAL``:
a key added to a map must be added here). Enums only ever grow at the end,
so functions that return a value from the library accept numbers these
classes do not list yet.

Members the C headers declare only under ``FLP_EXPERIMENTAL`` are listed as
experimental in their class's docstring: they may change or disappear in any
release (doc/CONVENTIONS.md).
"""

from enum import IntEnum

__all__ = [
    "Status", "Group", "LayerKind", "Param", "Init", "Signal", "FeedbackKey", "FeedbackKind", "FeedbackTensor",
    "RuleKind", "RuleTerm", "Granularity", "RuleKey", "EpisodeArray", "Split", "Order", "SineKey", "FewshotKey",
    "LifetimeKey", "MetaKey", "BatchKey", "TensorArray", "Limit",
]


class Status(IntEnum):
    """flp_status (flp_common.h): 0 is success, errors are negative."""
    OK = 0
    ERR_NULL = -1
    ERR_INVALID = -2
    ERR_SHAPE = -3
    ERR_RANGE = -4
    ERR_NOMEM = -5
    ERR_IO = -6
    ERR_FORMAT = -7
    ERR_VERSION = -8
    ERR_NONFINITE = -9
    ERR_STATE = -10
    ERR_UNSUPPORTED = -11


class Group(IntEnum):
    """flp_group: meta-parameter groups, each with its own learning rate."""
    WEIGHTS = 0
    FEEDBACK = 1
    PLASTICITY = 2
    STRENGTH = 3
    RULE = 4


class LayerKind(IntEnum):
    """flp_layer_kind."""
    LINEAR = 0
    CONV2D = 1
    RELU = 2
    SOFTPLUS = 3
    FLATTEN = 4


class Param(IntEnum):
    """flp_param: which parameter of a layer."""
    WEIGHT = 0
    BIAS = 1


class Init(IntEnum):
    """flp_init: weight initialisation schemes."""
    KAIMING_NORMAL = 0
    XAVIER_UNIFORM = 1


class Signal(IntEnum):
    """flp_signal: what the feedback pathway carries."""
    ERROR = 0
    TARGET = 1
    TARGET_MINUS_SOFTMAX = 2


class FeedbackKey(IntEnum):
    """flp_feedback_key: settings of a :class:`flp.Feedback`.

    Experimental: KIND (chained feedback)."""
    SIGNAL = 0
    RELU = 1
    CLAMP_OUTPUT = 2
    POST_PRESYNAPTIC = 3
    DIFFERENTIATE_SIGNAL = 4
    KIND = 5


class FeedbackKind(IntEnum):
    """flp_feedback_kind: direct FLP pathways, or errors chained layer by layer.

    Experimental, every member: DIRECT, CHAINED, SYMMETRIC."""
    DIRECT = 0
    CHAINED = 1
    SYMMETRIC = 2


class FeedbackTensor(IntEnum):
    """flp_feedback_tensor: B [n_l, n_out] (chained: shaped like W_l), c [n_l], beta [1]."""
    B = 0
    C = 1
    BETA = 2


class RuleKind(IntEnum):
    """flp_rule_kind.

    Experimental: FAMILY (the rule family over chained feedback)."""
    OJA = 0
    HEBB = 1
    GRADIENT = 2
    FAMILY = 3


class RuleTerm(IntEnum):
    """flp_rule_term: the rule family's candidate terms (index of theta).

    Experimental, every member: PSEUDO_GRADIENT, ERROR_HEBB, OJA."""
    PSEUDO_GRADIENT = 0
    ERROR_HEBB = 1
    OJA = 2


class Granularity(IntEnum):
    """flp_granularity: one alpha per synapse, per neuron or per layer."""
    SYNAPSE = 0
    NEURON = 1
    LAYER = 2


class RuleKey(IntEnum):
    """flp_rule_key: settings of a :class:`flp.Rule`.

    Experimental: SECOND_ORDER (the gradient rule's), TERMS, THETA_L1 (the
    rule family's)."""
    GRANULARITY = 0
    PLASTIC_LAST = 1
    HIDDEN_MULTIPLIER = 2
    ALPHA_INIT = 3
    SECOND_ORDER = 4
    TERMS = 5
    THETA_L1 = 6


class EpisodeArray(IntEnum):
    """flp_episode_array: the arrays of an episode."""
    X = 0
    Y = 1
    LABELS = 2
    XQ = 3
    YQ = 4
    LQ = 5


class Split(IntEnum):
    """flp_split: meta-training or evaluation tasks."""
    TRAIN = 0
    EVAL = 1


class Order(IntEnum):
    """flp_order: order of the inner steps of an episode."""
    IID = 0
    CONTINUAL = 1


class SineKey(IntEnum):
    """flp_sine_key: settings of the incremental-sine sampler."""
    TASKS = 0
    BATCHES_PER_TASK = 1
    BATCH = 2
    QUERY_PER_TASK = 3
    ORDER = 4
    POOL = 5
    SHUFFLE_EXAMPLES = 6


class FewshotKey(IntEnum):
    """flp_fewshot_key: settings of the few-shot classification sampler."""
    WAYS = 0
    SHOTS = 1
    QUERY_PER_CLASS = 2
    ORDER = 3
    BATCH = 4


class LifetimeKey(IntEnum):
    """flp_lifetime_key: settings of a :class:`flp.Lifetime`.

    Experimental: REINIT, REINIT_SEED (weights drawn afresh per lifetime)."""
    MEMORY_BUDGET = 0
    CHECK_FINITE = 1
    REINIT = 2
    REINIT_SEED = 3


class BatchKey(IntEnum):
    """flp_batch_key: settings of a meta-batch (flp_batch).

    Experimental: REINIT, REINIT_SEED (as the lifetime's)."""
    THREADS = 0
    MEMORY_BUDGET = 1
    CHECK_FINITE = 2
    REINIT = 3
    REINIT_SEED = 4


class MetaKey(IntEnum):
    """flp_meta_key: settings of the meta-optimizer (Adam)."""
    BETA1 = 0
    BETA2 = 1
    EPSILON = 2
    NONFINITE = 3
    RESTART_EVERY = 4


class TensorArray(IntEnum):
    """flp_tensor_array: the arrays of a meta-parameter tensor (:meth:`flp.Meta.tensor`)."""
    VALUE = 0
    GRAD = 1
    MOMENT1 = 2
    MOMENT2 = 3


class Limit(IntEnum):
    """flp_limit (flp_common.h): resource limits on what a file may declare."""
    IMAGE_PIXELS = 0
    IDX_BYTES = 1
    CSV_BYTES = 2
