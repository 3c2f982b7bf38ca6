"""Pythonic classes over the libflp handles.

Arrays cross as NumPy ``float32`` arrays in C order. Inputs that already are
``float32``, C-contiguous and aligned are passed by address, without a copy;
anything else is converted once. Outputs are new arrays, or the caller's
own array when given as ``out=``: libflp then writes straight into it.
"""

from __future__ import annotations

import math
from collections import namedtuple
from ctypes import byref, c_char_p, c_double, c_float, c_int, c_int64, c_uint64, c_void_p

import numpy as np

from . import _lib
from ._base import (Handle, as_input, bounds, c_path, check, check_output, create, get_double, lib, ptr,
                    shape_error)
from .enums import (BatchKey, EpisodeArray, FeedbackKey, FewshotKey, FeedbackTensor, Granularity, Group, Init, LayerKind,
                    LifetimeKey, MetaKey, Param, RuleKey, RuleKind, SineKey, Split, Status, TensorArray)
from .errors import InvalidArgumentError

__all__ = ["Rng", "Net", "Feedback", "Rule", "Episode", "EpisodeShape", "Sampler", "Lifetime",
           "LifetimeStats", "Meta", "TensorInfo", "Batch", "checkpoint_save", "checkpoint_load"]


def _prod(shape):
    return int(np.prod(shape, dtype=np.int64))


def _enum_or_int(enum, value):
    try:
        return enum(value)
    except ValueError:
        return int(value)


# =============================================================================
class Rng(Handle):
    """A reproducible random number generator (xoshiro256**, seeded through
    splitmix64): the same seed gives the same stream everywhere.

    >>> with flp.Rng(1) as rng:
    ...     x = rng.normal((4, 3))
    """

    _free_name = "flp_rng_free"

    def __init__(self, seed=0):
        super().__init__(create(lib.flp_rng_create, c_uint64(seed)))

    def seed(self, seed):
        """Re-seed in place."""
        check(lib.flp_rng_seed(self, c_uint64(seed)))

    def next(self):
        """The next raw 64-bit value, as a Python int."""
        v = c_uint64()
        check(lib.flp_rng_next(self, byref(v)))
        return v.value

    def uniform(self, shape=None, lo=0.0, hi=1.0, out=None):
        """Uniform values in [lo, hi): a new array of ``shape``, or filled into
        ``out`` (float32, C-contiguous) in place."""
        out = check_output(out, () if shape is None else shape, exact=False)
        check(lib.flp_rng_uniform(self, lo, hi, ptr(out), out.size))
        return out

    def normal(self, shape=None, mean=0.0, std=1.0, out=None):
        """Normal values of the given mean and standard deviation, as :meth:`uniform`."""
        out = check_output(out, () if shape is None else shape, exact=False)
        check(lib.flp_rng_normal(self, mean, std, ptr(out), out.size))
        return out

    @property
    def state(self):
        """The 256-bit state as a tuple of four ints; assign to restore it."""
        s = (c_uint64 * 4)()
        check(lib.flp_rng_get_state(self, s))
        return tuple(s)

    @state.setter
    def state(self, words):
        words = tuple(int(w) for w in words)
        if len(words) != 4:
            raise ValueError(f"an rng state is 4 words, got {len(words)}")
        check(lib.flp_rng_set_state(self, (c_uint64 * 4)(*words)))


# =============================================================================
class Net(Handle):
    """A network: a stack of layers built from an input shape, with exact
    vector-Jacobian products.

    ``input_shape`` is ``n_features`` (or ``(n_features,)``) for dense networks
    or ``(channels, height, width)`` for images. Layers are numbered from 0 in
    the order they were added, activations included. The ``add_*`` methods
    return the network, so they chain::

        net = flp.Net(11).add_linear(64).add_relu().add_linear(1)
        net.init(flp.Init.KAIMING_NORMAL, rng)
        y = net.forward(x)                 # x [batch, 11] -> y [batch, 1]
    """

    _free_name = "flp_net_free"

    def __init__(self, input_shape):
        shape = (input_shape,) if np.isscalar(input_shape) else tuple(input_shape)
        arr = (c_int64 * max(len(shape), 1))(*[int(s) for s in shape])
        super().__init__(create(lib.flp_net_create, len(shape), arr))
        self._kernels = {}   # conv2d layer -> (kernel_h, kernel_w)
        self._last_batch = None

    # ---- building ----------------------------------------------------------
    def add_linear(self, out_features, bias=True):
        """Append a dense layer y = x W^T + b (W [out, in]); ``bias=False`` omits b."""
        check(lib.flp_net_add_linear(self, out_features, int(bool(bias))))
        return self

    def add_conv2d(self, out_channels, kernel, stride=1, padding=0, bias=True):
        """Append a 2-D convolution over a [C, H, W] input; ``kernel`` is an int
        or ``(kernel_h, kernel_w)``. Weight layout [out_c, in_c, kh, kw]."""
        kh, kw = (kernel, kernel) if np.isscalar(kernel) else kernel
        check(lib.flp_net_add_conv2d(self, out_channels, kh, kw, stride, padding, int(bool(bias))))
        self._kernels[len(self) - 1] = (int(kh), int(kw))
        return self

    def add_relu(self):
        """Append max(x, 0)."""
        check(lib.flp_net_add_relu(self))
        return self

    def add_softplus(self, beta=1.0):
        """Append softplus(x) = log(1 + exp(beta x)) / beta."""
        check(lib.flp_net_add_softplus(self, beta))
        return self

    def add_flatten(self):
        """Append a reshape [C, H, W] -> [C*H*W] (no data movement)."""
        check(lib.flp_net_add_flatten(self))
        return self

    # ---- shape queries -----------------------------------------------------
    def __len__(self):
        n = c_int()
        check(lib.flp_net_num_layers(self, byref(n)))
        return n.value

    num_layers = property(__len__, doc="Number of layers added so far.")

    def layer_kind(self, layer):
        """The :class:`LayerKind` of layer ``layer``."""
        k = c_int()
        check(lib.flp_net_layer_kind(self, layer, byref(k)))
        return _enum_or_int(LayerKind, k.value)

    def layer_shape(self, layer):
        """Per-example output shape of layer ``layer`` (-1: the input), a tuple."""
        rank, shape = c_int(), (c_int64 * 3)()
        check(lib.flp_net_layer_shape(self, layer, byref(rank), shape))
        return tuple(shape[: rank.value])

    @property
    def input_shape(self):
        """Per-example input shape."""
        return self.layer_shape(-1)

    @property
    def output_shape(self):
        """Per-example output shape of the last layer (the input's with no layers)."""
        return self.layer_shape(len(self) - 1)

    def io_size(self):
        """(input elements, output elements) per example."""
        i, o = c_int64(), c_int64()
        check(lib.flp_net_io_size(self, byref(i), byref(o)))
        return i.value, o.value

    def param_count(self, layer, which=Param.WEIGHT):
        """Number of floats in a parameter (0 if the layer has none)."""
        n = c_int64()
        check(lib.flp_net_param_count(self, layer, int(which), byref(n)))
        return n.value

    def param_shape(self, layer, which=Param.WEIGHT):
        """Shape of a parameter: linear weight (out, in), conv2d weight
        (out_c, in_c, kh, kw), biases (out,)."""
        count = self.param_count(layer, which)
        if which == Param.WEIGHT and count:
            kind = self.layer_kind(layer)
            out = self.layer_shape(layer)
            if kind == LayerKind.LINEAR:
                return (out[0], _prod(self.layer_shape(layer - 1)))
            if kind == LayerKind.CONV2D and layer in self._kernels:
                return (out[0], self.layer_shape(layer - 1)[0]) + self._kernels[layer]
        return (count,)

    # ---- parameters ----------------------------------------------------------
    def get_param(self, layer, which=Param.WEIGHT, out=None):
        """Copy a parameter out: a new array of :meth:`param_shape`, or into
        ``out`` (float32, C-contiguous; its size must equal the count, which
        libflp checks)."""
        out = check_output(out, self.param_shape(layer, which), exact=False)
        check(lib.flp_net_get_param(self, layer, int(which), ptr(out), out.size))
        return out

    def set_param(self, layer, which, value):
        """Overwrite a parameter from any array of the right size (non-finite
        values are refused by libflp)."""
        a = as_input(value)
        check(lib.flp_net_set_param(self, layer, int(which), ptr(a), a.size))

    def get_grad(self, layer, which=Param.WEIGHT, out=None):
        """Copy out the gradient accumulated for a parameter (as :meth:`get_param`)."""
        out = check_output(out, self.param_shape(layer, which), exact=False)
        check(lib.flp_net_get_grad(self, layer, int(which), ptr(out), out.size))
        return out

    def zero_grad(self):
        """Set every accumulated gradient to zero."""
        check(lib.flp_net_zero_grad(self))

    def init(self, scheme=Init.KAIMING_NORMAL, rng=None):
        """Initialise every weight by ``scheme`` from ``rng`` (a :class:`Rng`, or
        an int seed), every bias to zero."""
        if rng is None or isinstance(rng, (int, np.integer)):
            with Rng(0 if rng is None else int(rng)) as r:
                check(lib.flp_net_init(self, int(scheme), r))
        else:
            check(lib.flp_net_init(self, int(scheme), rng))
        return self

    # ---- forward / backward --------------------------------------------------
    def _batch_input(self, x, name, expect, fn):
        a = as_input(x)
        if a.ndim < 2 or _prod(a.shape[1:]) != expect:
            raise shape_error(f"{fn}: {name} has shape {a.shape}, expected (batch, "
                              f"{expect}) or (batch, *{self.input_shape})")
        return a

    def forward(self, x, out=None):
        """y = net(x): ``x`` [batch, *input_shape] -> y [batch, *output_shape],
        a new array or written into ``out`` in place. Keeps the activations
        for :meth:`backward`."""
        n_in, n_out = self.io_size()
        a = self._batch_input(x, "x", n_in, "flp_net_forward")
        batch = a.shape[0]
        out = check_output(out, (batch,) + self.output_shape)
        check(lib.flp_net_forward(self, batch, ptr(a), ptr(out)))
        self._last_batch = batch
        return out

    def backward(self, dy, dx=None, want_dx=False):
        """Add dy^T dy/dparams of the last :meth:`forward` to the gradients.
        Returns dx [batch, *input_shape] when ``want_dx`` or ``dx`` (an array
        to write into) is given, else None."""
        n_in, n_out = self.io_size()
        a = self._batch_input(dy, "dy", n_out, "flp_net_backward")
        if self._last_batch is not None and a.shape[0] != self._last_batch:
            raise shape_error(f"flp_net_backward: dy has {a.shape[0]} rows, the last forward "
                              f"had batch {self._last_batch}")
        d = None
        if want_dx or dx is not None:
            d = check_output(dx, (a.shape[0],) + self.input_shape, name="dx")
        check(lib.flp_net_backward(self, ptr(a), None if d is None else ptr(d)))
        return d

    def _describe(self):
        return f" layers={len(self)} in={self.input_shape} out={self.output_shape}"


# =============================================================================
class Feedback(Handle):
    """Feedback pathways into every linear layer of ``net``:
    f_l = act(s B_l^T + c_l), post_l = beta_l f_l + (1 - beta_l) h_l.

    Settings (:class:`FeedbackKey`) can be given as keywords::

        fb = flp.Feedback(net, signal=flp.Signal.ERROR)
        fb.init(rng, beta=0.5)
    """

    _free_name = "flp_feedback_free"

    def __init__(self, net, **settings):
        super().__init__(create(lib.flp_feedback_create, net), parents=(net,))
        self.net = net
        for k, v in settings.items():
            self.set(FeedbackKey[k.upper()], v)

    def set(self, key, value):
        """Set a :class:`FeedbackKey` (``RangeError`` outside :meth:`bounds`)."""
        check(lib.flp_feedback_set(self, int(key), float(value)))

    def get(self, key):
        """Value of a :class:`FeedbackKey`."""
        return get_double(lib.flp_feedback_get, self, key)

    @staticmethod
    def bounds(key):
        """(lo, hi) accepted for a :class:`FeedbackKey`."""
        return bounds(lib.flp_feedback_bounds, int(key))

    def init(self, rng, beta=0.5):
        """B_l Kaiming normal from ``rng`` (a :class:`Rng` or an int seed),
        c_l = 0, beta_l = ``beta``."""
        if isinstance(rng, (int, np.integer)):
            with Rng(int(rng)) as r:
                check(lib.flp_feedback_init(self, r, beta))
        else:
            check(lib.flp_feedback_init(self, rng, beta))
        return self

    def count(self, layer, which=FeedbackTensor.B):
        """Element count of a pathway tensor of linear layer ``layer``."""
        n = c_int64()
        check(lib.flp_feedback_count(self, layer, int(which), byref(n)))
        return n.value

    def shape(self, layer, which=FeedbackTensor.B):
        """Shape of a pathway tensor: B (n_l, n_out), c (n_l,), beta (1,)."""
        count = self.count(layer, which)
        if which == FeedbackTensor.B:
            n_l = _prod(self.net.layer_shape(layer))
            if n_l and count % n_l == 0:
                return (n_l, count // n_l)
        return (count,)

    def get_param(self, layer, which=FeedbackTensor.B, out=None):
        """Copy a pathway tensor out (new array or ``out``; libflp checks its size)."""
        out = check_output(out, self.shape(layer, which), exact=False)
        check(lib.flp_feedback_get_param(self, layer, int(which), ptr(out), out.size))
        return out

    def set_param(self, layer, which, value):
        """Overwrite a pathway tensor."""
        a = as_input(value)
        check(lib.flp_feedback_set_param(self, layer, int(which), ptr(a), a.size))

    def get_grad(self, layer, which=FeedbackTensor.B, out=None):
        """Copy out a pathway tensor's accumulated gradient."""
        out = check_output(out, self.shape(layer, which), exact=False)
        check(lib.flp_feedback_get_grad(self, layer, int(which), ptr(out), out.size))
        return out

    def zero_grad(self):
        """Set every accumulated pathway gradient to zero."""
        check(lib.flp_feedback_zero_grad(self))


# =============================================================================
class Rule(Handle):
    """A plasticity rule (Oja, Hebb or gradient) for ``net``, with coefficients
    alpha per linear layer. Settings (:class:`RuleKey`) can be keywords::

        rule = flp.Rule(net, flp.RuleKind.OJA, plastic_last=3)
    """

    _free_name = "flp_rule_free"

    def __init__(self, net, kind=RuleKind.OJA, **settings):
        super().__init__(create(lib.flp_rule_create, net, int(kind)), parents=(net,))
        self.net = net
        for k, v in settings.items():
            self.set(RuleKey[k.upper()], v)

    def set(self, key, value):
        """Set a :class:`RuleKey`."""
        check(lib.flp_rule_set(self, int(key), float(value)))

    def get(self, key):
        """Value of a :class:`RuleKey`."""
        return get_double(lib.flp_rule_get, self, key)

    @staticmethod
    def bounds(key):
        """(lo, hi) accepted for a :class:`RuleKey`."""
        return bounds(lib.flp_rule_bounds, int(key))

    @property
    def kind(self):
        """The rule's :class:`RuleKind`."""
        k = c_int()
        check(lib.flp_rule_kind_of(self, byref(k)))
        return _enum_or_int(RuleKind, k.value)

    def set_plastic_mask(self, mask):
        """Choose the plastic layers: one truth value per network layer."""
        m = [int(bool(v)) for v in mask]
        check(lib.flp_rule_set_plastic_mask(self, (c_int * max(len(m), 1))(*m), len(m)))

    def is_plastic(self, layer):
        """Whether network layer ``layer`` is plastic."""
        p = c_int()
        check(lib.flp_rule_is_plastic(self, layer, byref(p)))
        return bool(p.value)

    @property
    def plastic_layers(self):
        """Indices of the plastic layers."""
        return [i for i in range(len(self.net)) if self.is_plastic(i)]

    def alpha_count(self, layer):
        """Number of alpha coefficients of linear layer ``layer``."""
        n = c_int64()
        check(lib.flp_rule_alpha_count(self, layer, byref(n)))
        return n.value

    def alpha_shape(self, layer):
        """(n_l, n_prev) per synapse, (n_l,) per neuron, (1,) per layer."""
        count = self.alpha_count(layer)
        if int(self.get(RuleKey.GRANULARITY)) == Granularity.SYNAPSE:
            n_l = _prod(self.net.layer_shape(layer))
            if n_l and count % n_l == 0:
                return (n_l, count // n_l)
        return (count,)

    def get_alpha(self, layer, out=None):
        """Copy out alpha of linear layer ``layer``."""
        out = check_output(out, self.alpha_shape(layer), exact=False)
        check(lib.flp_rule_get_alpha(self, layer, ptr(out), out.size))
        return out

    def set_alpha(self, layer, value):
        """Overwrite alpha of linear layer ``layer``."""
        a = as_input(value)
        check(lib.flp_rule_set_alpha(self, layer, ptr(a), a.size))

    def get_alpha_grad(self, layer, out=None):
        """Copy out the accumulated gradient of alpha."""
        out = check_output(out, self.alpha_shape(layer), exact=False)
        check(lib.flp_rule_get_alpha_grad(self, layer, ptr(out), out.size))
        return out

    def lr_bias_count(self, layer):
        """Number of bias learning rates of linear layer ``layer`` (gradient rule)."""
        n = c_int64()
        check(lib.flp_rule_lr_bias_count(self, layer, byref(n)))
        return n.value

    def get_lr_bias(self, layer, out=None):
        """Copy out the bias learning rates of linear layer ``layer`` (gradient rule)."""
        out = check_output(out, (self.lr_bias_count(layer),), exact=False)
        check(lib.flp_rule_get_lr_bias(self, layer, ptr(out), out.size))
        return out

    def set_lr_bias(self, layer, value):
        """Overwrite the bias learning rates of linear layer ``layer`` (gradient rule)."""
        a = as_input(value)
        check(lib.flp_rule_set_lr_bias(self, layer, ptr(a), a.size))

    def get_lr_bias_grad(self, layer, out=None):
        """Copy out the accumulated gradient of the bias learning rates."""
        out = check_output(out, (self.lr_bias_count(layer),), exact=False)
        check(lib.flp_rule_get_lr_bias_grad(self, layer, ptr(out), out.size))
        return out

    def zero_grad(self):
        """Set every accumulated alpha (and bias learning-rate) gradient to zero."""
        check(lib.flp_rule_zero_grad(self))


# =============================================================================
EpisodeShape = namedtuple("EpisodeShape", "steps batch n_in n_out n_query classification")


class Episode(Handle):
    """One lifetime's data: ``steps`` inner steps of ``batch`` examples, then a
    query set on which the meta-loss is measured.

    Fill it from arrays with :meth:`set_regression` / :meth:`set_classes`
    (copied in), or let a :class:`Sampler` draw it. Read its arrays with the
    ``x``, ``y``, ``labels``, ``xq``, ``yq``, ``lq`` properties (copies) or
    :meth:`array` with ``copy=False`` (a read-only view into the episode).
    """

    _free_name = "flp_episode_free"

    def __init__(self):
        super().__init__(create(lib.flp_episode_create))

    def set_regression(self, x, y, xq, yq):
        """x [K, batch, n_in], y [K, batch, n_out], xq [n_query, n_in],
        yq [n_query, n_out] (copied into the episode)."""
        x, y, xq, yq = (as_input(v) for v in (x, y, xq, yq))
        if x.ndim != 3 or y.ndim != 3 or xq.ndim != 2 or yq.ndim != 2:
            raise shape_error("flp_episode_set_regression: x and y must be 3-D "
                              "[steps, batch, n], xq and yq 2-D [n_query, n]")
        k, b, n_in = x.shape
        n_out = y.shape[2]
        if y.shape[:2] != (k, b) or xq.shape[1] != n_in or yq.shape != (xq.shape[0], n_out):
            raise shape_error(f"flp_episode_set_regression: shapes do not agree: x {x.shape}, "
                              f"y {y.shape}, xq {xq.shape}, yq {yq.shape}")
        check(lib.flp_episode_set_regression(self, k, b, n_in, n_out, ptr(x), ptr(y),
                                             xq.shape[0], ptr(xq), ptr(yq)))
        return self

    def set_classes(self, x, labels, xq, lq, n_classes):
        """x [K, batch, n_in], labels int32 [K, batch] in [0, n_classes),
        xq [n_query, n_in], lq int32 [n_query]."""
        x, xq = as_input(x), as_input(xq)
        labels, lq = as_input(labels, np.int32), as_input(lq, np.int32)
        if x.ndim != 3 or labels.ndim != 2 or xq.ndim != 2 or lq.ndim != 1:
            raise shape_error("flp_episode_set_classes: x must be 3-D, labels 2-D, xq 2-D, lq 1-D")
        k, b, n_in = x.shape
        if labels.shape != (k, b) or xq.shape[1] != n_in or lq.shape[0] != xq.shape[0]:
            raise shape_error(f"flp_episode_set_classes: shapes do not agree: x {x.shape}, "
                              f"labels {labels.shape}, xq {xq.shape}, lq {lq.shape}")
        check(lib.flp_episode_set_classes(self, k, b, n_in, n_classes, ptr(x), ptr(labels),
                                          xq.shape[0], ptr(xq), ptr(lq)))
        return self

    @property
    def shape(self):
        """:class:`EpisodeShape` (steps, batch, n_in, n_out, n_query, classification)."""
        v = [c_int64() for _ in range(5)]
        cls = c_int()
        check(lib.flp_episode_shape(self, *(byref(x) for x in v), byref(cls)))
        return EpisodeShape(*(x.value for x in v), bool(cls.value))

    def _array_shape(self, which, s):
        return {EpisodeArray.X: (s.steps, s.batch, s.n_in),
                EpisodeArray.Y: (s.steps, s.batch, s.n_out),
                EpisodeArray.LABELS: (s.steps, s.batch),
                EpisodeArray.XQ: (s.n_query, s.n_in),
                EpisodeArray.YQ: (s.n_query, s.n_out),
                EpisodeArray.LQ: (s.n_query,)}[EpisodeArray(which)]

    def array(self, which, copy=True):
        """An episode array by :class:`EpisodeArray`, shaped. With ``copy=False``
        a read-only view into the episode's own buffer, valid until the episode
        changes (the view keeps the episode object alive, not its contents)."""
        which = EpisodeArray(which)
        labels = which in (EpisodeArray.LABELS, EpisodeArray.LQ)
        data, count = c_void_p(), c_int64()
        fn = lib.flp_episode_labels if labels else lib.flp_episode_floats
        check(fn(self, int(which), byref(data), byref(count)))
        shape = self._array_shape(which, self.shape)
        ctype = (c_int if labels else c_float) * count.value
        buf = ctype.from_address(data.value)
        buf._owner = self  # the view keeps the episode alive
        view = np.frombuffer(buf, dtype=np.int32 if labels else np.float32).reshape(shape)
        view.flags.writeable = False
        return view.copy() if copy else view

    x = property(lambda self: self.array(EpisodeArray.X), doc="Inputs [K, batch, n_in] (copy).")
    y = property(lambda self: self.array(EpisodeArray.Y), doc="Targets [K, batch, n_out] (copy).")
    labels = property(lambda self: self.array(EpisodeArray.LABELS),
                      doc="Labels [K, batch] (copy).")
    xq = property(lambda self: self.array(EpisodeArray.XQ), doc="Query inputs (copy).")
    yq = property(lambda self: self.array(EpisodeArray.YQ), doc="Query targets (copy).")
    lq = property(lambda self: self.array(EpisodeArray.LQ), doc="Query labels (copy).")

    def _describe(self):
        try:
            return f" {self.shape}"
        except Exception:  # an empty episode has no shape yet
            return " empty"


# =============================================================================
class Sampler(Handle):
    """A task sampler that draws episodes. Create one with a class method:

        tasks = flp.Sampler.sine(seed=42, batches_per_task=2)
        tasks = flp.Sampler.fewshot(train, test, seed=42, ways=5, shots=1)
        ep = tasks.next(flp.Split.TRAIN)
    """

    _free_name = "flp_sampler_free"
    _keys = None  # the enum of this sampler's keys

    def __init__(self, ptr, keys):
        super().__init__(ptr)
        self._keys = keys

    @classmethod
    def sine(cls, seed=0, **settings):
        """The incremental-sine sampler (Lindsey & Litwin-Kumar 2020). Keywords
        are :class:`SineKey` names: ``tasks``, ``batches_per_task``, ``batch``,
        ``query_per_task``, ``order``, ``pool``, ``shuffle_examples``."""
        s = cls(create(lib.flp_sampler_create_sine, c_uint64(seed)), SineKey)
        try:
            for k, v in settings.items():
                s.set(SineKey[k.upper()], v)
        except BaseException:
            s.close()
            raise
        return s

    @classmethod
    def fewshot(cls, train, eval=None, seed=0, **settings):
        """The online N-way k-shot classification sampler over :class:`Dataset`
        handles: :attr:`Split.TRAIN` episodes draw their classes from
        ``train``, :attr:`Split.EVAL` episodes from ``eval`` (None: evaluation
        episodes raise ``StateError``). Keywords are :class:`FewshotKey` names:
        ``ways``, ``shots``, ``query_per_class``, ``order``, ``batch``. The
        sampler keeps its own reference to the data: the data sets may be
        closed after. Episodes have n_in = C*H*W and n_out = ways."""
        s = cls(create(lib.flp_sampler_create_fewshot, train, eval, c_uint64(seed)), FewshotKey)
        try:
            for k, v in settings.items():
                s.set(FewshotKey[k.upper()], v)
        except BaseException:
            s.close()
            raise
        return s

    _families = {SineKey: "sine", FewshotKey: "few-shot"}

    def _key(self, key):
        """``key`` as an int, refusing a key of the other sampler family: the
        C enums share values until libflp's next major version, so only the
        enum's type can tell FLP_SINE_TASKS from FLP_FEWSHOT_WAYS."""
        family = self._families.get(type(key))
        if family is not None and type(key) is not self._keys:
            c_name = ("FLP_SINE_" if type(key) is SineKey else "FLP_FEWSHOT_") + key.name
            raise InvalidArgumentError(
                Status.ERR_INVALID, f"{c_name} is a key of {family} samplers, this is a "
                f"{self._families[self._keys]} sampler", "ERR_INVALID")
        return int(key)

    def set(self, key, value):
        """Set a sampler key (:class:`SineKey` for sine samplers,
        :class:`FewshotKey` for few-shot samplers; the other family's keys
        raise ``InvalidArgumentError``)."""
        check(lib.flp_sampler_set(self, self._key(key), float(value)))

    def get(self, key):
        """Value of a sampler key."""
        return get_double(lib.flp_sampler_get, self, self._key(key))

    def bounds(self, key):
        """(lo, hi) accepted for a key."""
        return bounds(lib.flp_sampler_bounds, self, self._key(key))

    def io_size(self):
        """(n_in, n_out, classification) of the episodes this sampler makes."""
        i, o, c = c_int64(), c_int64(), c_int()
        check(lib.flp_sampler_io_size(self, byref(i), byref(o), byref(c)))
        return i.value, o.value, bool(c.value)

    def next(self, split=Split.TRAIN, episode=None):
        """Draw the next episode of ``split`` into ``episode`` (reused, so a loop
        allocates nothing) or into a new :class:`Episode`; returns it."""
        ep = Episode() if episode is None else episode
        check(lib.flp_sampler_next(self, int(split), ep))
        return ep


# =============================================================================
LifetimeStats = namedtuple("LifetimeStats", "workspace_bytes recomputed_steps")


class Lifetime(Handle):
    """The inner loop over ``net``, ``feedback`` and ``rule`` (which it keeps
    alive) and its exact meta-gradient. It reads their parameters at each run
    and never modifies them.

        lt = flp.Lifetime(net, fb, rule, memory_budget=64 << 20)
        loss = lt.run(episode, gradient=True)   # adds the meta-gradient
    """

    _free_name = "flp_lifetime_free"

    def __init__(self, net, feedback, rule, memory_budget=None, check_finite=None):
        super().__init__(create(lib.flp_lifetime_create, net, feedback, rule),
                         parents=(net, feedback, rule))
        self.net, self.feedback, self.rule = net, feedback, rule
        if memory_budget is not None:
            self.memory_budget = memory_budget
        if check_finite is not None:
            self.check_finite = check_finite

    def set(self, key, value):
        """Set a :class:`LifetimeKey` (``RangeError`` outside :meth:`bounds`)."""
        check(lib.flp_lifetime_set(self, int(key), float(value)))

    def get(self, key):
        """Value of a :class:`LifetimeKey`."""
        return get_double(lib.flp_lifetime_get, self, key)

    @staticmethod
    def bounds(key):
        """(lo, hi) accepted for a :class:`LifetimeKey`."""
        return bounds(lib.flp_lifetime_bounds, int(key))

    memory_budget = property(
        lambda self: int(self.get(LifetimeKey.MEMORY_BUDGET)),
        lambda self, v: self.set(LifetimeKey.MEMORY_BUDGET, v),
        doc="Bytes the workspace may take: stored weights and activities, scratch, a front-end's activations (0: no limit).")
    check_finite = property(
        lambda self: bool(self.get(LifetimeKey.CHECK_FINITE)),
        lambda self, v: self.set(LifetimeKey.CHECK_FINITE, int(bool(v))),
        doc="Check plastic weights for NaN/inf after every step.")

    def run(self, episode, gradient=False):
        """Run the lifetime on ``episode``; return the query loss. With
        ``gradient=True`` add the meta-gradient to the handles' gradients."""
        loss = c_float()
        check(lib.flp_lifetime_run(self, episode, int(bool(gradient)), byref(loss)))
        return loss.value

    def final_weight(self, layer, out=None):
        """Weights [out, in] of linear layer ``layer`` at the end of the last run."""
        shape = self.net.param_shape(layer, Param.WEIGHT)
        out = check_output(out, shape, exact=False)
        check(lib.flp_lifetime_final_weight(self, layer, ptr(out), out.size))
        return out

    def final_bias(self, layer, out=None):
        """Biases of linear layer ``layer`` at the end of the last run (they
        change only under the gradient rule)."""
        out = check_output(out, (self.net.param_count(layer, Param.BIAS),), exact=False)
        check(lib.flp_lifetime_final_bias(self, layer, ptr(out), out.size))
        return out

    def predict(self, x, out=None):
        """Outputs of the network with the last run's final weights:
        x [n, n_in] -> y [n, n_out], a new array or written into ``out``."""
        n_in, n_out = self.net.io_size()
        a = as_input(x)
        if a.ndim != 2 or a.shape[1] != n_in:
            raise shape_error(f"flp_lifetime_predict: x has shape {a.shape}, "
                              f"expected (n, {n_in})")
        out = check_output(out, (a.shape[0], n_out))
        check(lib.flp_lifetime_predict(self, a.shape[0], ptr(a), ptr(out)))
        return out

    def stats(self):
        """:class:`LifetimeStats` of the last run."""
        b, r = c_int64(), c_int64()
        check(lib.flp_lifetime_stats(self, byref(b), byref(r)))
        return LifetimeStats(b.value, r.value)

    def work(self):
        """Floating-point operations of the matrix products of the last run
        (2 m n k per product, recomputation included)."""
        f = c_double()
        check(lib.flp_lifetime_work(self, byref(f)))
        return f.value


TensorInfo = namedtuple("TensorInfo", "name group shape")


# =============================================================================
class Meta(Handle):
    """The meta-optimizer: Adam over the meta-parameters of ``net`` and,
    when given, ``feedback`` and ``rule``, one learning rate per :class:`Group`.

        meta = flp.Meta(net, fb, rule, lr={flp.Group.PLASTICITY: 1e-8})
        loss = meta.train_step(lifetime, episode)

    A step whose gradient is not finite raises :class:`NonFiniteError`; by
    default it was skipped (``MetaKey.NONFINITE`` = 0), with 1 the offending
    entries were zeroed and the rest applied.
    """

    _free_name = "flp_meta_free"

    def __init__(self, net, feedback=None, rule=None, lr=None):
        super().__init__(create(lib.flp_meta_create, net, feedback, rule),
                         parents=(net, feedback, rule))
        self.net, self.feedback, self.rule = net, feedback, rule
        self._schedule = None       # (python callable, ctypes callback): kept alive
        self._schedule_error = None
        for group, rate in (lr or {}).items():
            self.set_lr(group, rate)

    def set(self, key, value):
        """Set a :class:`MetaKey` (``RangeError`` outside :meth:`bounds`)."""
        check(lib.flp_meta_set(self, int(key), float(value)))

    def get(self, key):
        """Value of a :class:`MetaKey`."""
        return get_double(lib.flp_meta_get, self, key)

    @staticmethod
    def bounds(key):
        """(lo, hi) accepted for a :class:`MetaKey` (BETA1's and BETA2's upper
        bound is the largest double below 1)."""
        return bounds(lib.flp_meta_bounds, int(key))

    def set_lr(self, group, lr):
        """Base learning rate of a :class:`Group` (>= 0)."""
        check(lib.flp_meta_set_lr(self, int(group), float(lr)))

    def get_lr(self, group):
        """Learning rate of a group at the current step (after schedule and decay)."""
        return self._call(lambda: get_double(lib.flp_meta_get_lr, self, group))

    def freeze(self, group, frozen=True):
        """Freeze (or unfreeze) a group: its parameters stop moving."""
        check(lib.flp_meta_freeze(self, int(group), int(bool(frozen))))

    def set_step_decay(self, group, factor, milestones=()):
        """Multiply a group's rate by ``factor`` at each milestone (meta-step
        counts, strictly increasing, at most 16); no milestones clears it."""
        m = [int(v) for v in milestones]
        arr = (c_int64 * max(len(m), 1))(*m)
        check(lib.flp_meta_set_step_decay(self, int(group), float(factor), arr, len(m)))

    def set_schedule(self, fn):
        """Replace step decay by ``fn(group, step, base_lr) -> lr`` for every
        group (None restores decay). ``fn`` must be pure: checkpoints replay it.
        An exception in ``fn`` is raised from the call that consulted it."""
        if fn is None:
            check(lib.flp_meta_set_schedule(self, _lib.LR_SCHEDULE(), None))
            self._schedule = None
            return

        def trampoline(group, step, base_lr, user):
            try:
                return float(fn(_enum_or_int(Group, group), step, base_lr))
            except BaseException as e:  # never let an exception cross the C frames
                self._schedule_error = e
                return math.nan  # libflp refuses it with a message

        cb = _lib.LR_SCHEDULE(trampoline)
        check(lib.flp_meta_set_schedule(self, cb, None))
        self._schedule = (fn, cb)

    def _call(self, thunk):
        self._schedule_error = None
        try:
            return thunk()
        except Exception as e:
            err, self._schedule_error = self._schedule_error, None
            if err is not None:
                raise err from e
            raise

    def zero_grad(self):
        """Zero the gradients of every meta-parameter."""
        check(lib.flp_meta_zero_grad(self))

    def scale_grad(self, factor):
        """Multiply every accumulated gradient by ``factor``."""
        check(lib.flp_meta_scale_grad(self, float(factor)))

    def get_grads(self):
        """Every accumulated gradient as one flat float32 array (network,
        feedback, rule: the checkpoint's order), e.g. to sum across processes."""
        n = c_int64()
        check(lib.flp_meta_grad_count(self, byref(n)))
        out = np.empty(n.value, dtype=np.float32)
        check(lib.flp_meta_get_grads(self, ptr(out), n.value))
        return out

    def set_grads(self, grads):
        """Overwrite every accumulated gradient from a flat array laid out as
        :meth:`get_grads` returns it."""
        a = as_input(grads)
        check(lib.flp_meta_set_grads(self, ptr(a), a.size))

    def step(self):
        """Apply one Adam step with the accumulated gradients."""
        self._call(lambda: check(lib.flp_meta_step(self)))

    def train_step(self, lifetime, episode):
        """Zero the gradients, run ``lifetime`` on ``episode`` with gradient,
        step; return the query loss."""
        loss = c_float()
        self._call(lambda: check(lib.flp_meta_train_step(self, lifetime, episode, byref(loss))))
        return loss.value

    @property
    def step_count(self):
        """Number of meta-steps applied so far."""
        n = c_int64()
        check(lib.flp_meta_step_count(self, byref(n)))
        return n.value

    def grad_norm(self, group=None):
        """L2 norm of the accumulated gradients of ``group`` (all groups if None)."""
        return get_double(lib.flp_meta_grad_norm, self, -1 if group is None else int(group))

    # ---- named tensors (flp_params.h) ----
    def tensors(self):
        """Every meta-parameter as a :class:`TensorInfo` (name, :class:`Group`,
        shape), in the optimizer's order: the checkpoint's, and that of
        :meth:`get_grads`."""
        n = c_int()
        check(lib.flp_meta_tensor_count(self, byref(n)))
        return [self._tensor_info(i) for i in range(n.value)]

    def _tensor_info(self, index):
        name, group, rank = c_char_p(), c_int(), c_int()
        dims = (c_int64 * 4)()
        check(lib.flp_meta_tensor_info(self, index, byref(name), byref(group), byref(rank), dims, None))
        return TensorInfo(name.value.decode("ascii"), _enum_or_int(Group, group.value),
                          tuple(dims[:rank.value]))

    def _tensor_index(self, tensor):
        if isinstance(tensor, str):
            i = c_int()
            check(lib.flp_meta_tensor_find(self, tensor.encode("ascii"), byref(i)))
            return i.value
        return int(tensor)

    def tensor(self, tensor, which=TensorArray.VALUE, out=None):
        """Array ``which`` (:class:`TensorArray`: value, gradient, Adam's first
        or second moment) of a tensor given by name ("net.2.weight") or index,
        shaped like the tensor: a new array or written into ``out``."""
        i = self._tensor_index(tensor)
        shape = self._tensor_info(i).shape
        out = check_output(out, shape, exact=False)
        check(lib.flp_meta_tensor_get(self, i, int(which), ptr(out), out.size))
        return out

    def set_tensor(self, tensor, value, which=TensorArray.VALUE):
        """Overwrite array ``which`` of a tensor (by name or index) from
        ``value`` (any shape with the tensor's element count). Values and first
        moments must be finite, second moments finite and >= 0."""
        a = as_input(value)
        check(lib.flp_meta_tensor_set(self, self._tensor_index(tensor), int(which), ptr(a), a.size))

    def save(self, path, sampler=None):
        """Write a checkpoint (atomically) of this optimizer and its handles,
        and of ``sampler`` when given."""
        checkpoint_save(path, self, sampler)

    def load(self, path, sampler=None):
        """Restore a checkpoint into handles configured as when it was saved."""
        checkpoint_load(path, self, sampler)

    def _describe(self):
        return f" steps={self.step_count}"


# =============================================================================
class Batch(Handle):
    """A meta-batch over ``meta``: several episodes per meta-step run
    concurrently, their meta-gradients summed in episode order (the same
    result for any thread count).

        batch = flp.Batch(meta)
        losses = batch.train_step([tasks.next(flp.Split.TRAIN) for _ in range(4)])
    """

    _free_name = "flp_batch_free"

    def __init__(self, meta):
        super().__init__(create(lib.flp_batch_create, meta), parents=(meta,))
        self.meta = meta

    def set(self, key, value):
        """Set a :class:`BatchKey` (``RangeError`` outside :meth:`bounds`)."""
        check(lib.flp_batch_set(self, int(key), float(value)))

    def get(self, key):
        """Value of a :class:`BatchKey`."""
        return get_double(lib.flp_batch_get, self, key)

    @staticmethod
    def bounds(key):
        """(lo, hi) accepted for a :class:`BatchKey`."""
        return bounds(lib.flp_batch_bounds, int(key))

    def _call(self, fn, episodes):
        eps = list(episodes)
        arr = (c_void_p * max(len(eps), 1))(*[e._as_parameter_.value for e in eps])
        losses = np.empty(max(len(eps), 1), dtype=np.float32)
        self.meta._call(lambda: check(fn(self, arr, len(eps), ptr(losses))))
        return losses[:len(eps)]

    def run(self, episodes):
        """Run the episodes' lifetimes and ADD their meta-gradients to the
        handles' gradients in order; return their query losses."""
        return self._call(lib.flp_batch_run, episodes)

    def train_step(self, episodes):
        """Zero the gradients, run the episodes, average, take one Adam step;
        return their query losses."""
        return self._call(lib.flp_batch_train_step, episodes)


def checkpoint_save(path, meta, sampler=None):
    """Write a checkpoint of ``meta`` (and ``sampler``) to ``path`` atomically."""
    check(lib.flp_checkpoint_save(c_path(path), meta, sampler))


def checkpoint_load(path, meta, sampler=None):
    """Restore a checkpoint; a mismatching, corrupt or wrong-version file raises
    (``FormatError``, ``VersionError``, ...) and leaves the handles untouched."""
    check(lib.flp_checkpoint_load(c_path(path), meta, sampler))
