"""Lesson 07 (gradient pathologies): Xavier and He initialisers, clipping by global norm, dead ReLUs counted, and
two predict-first questions (the He std of a layer; the gradient through a chain of sigmoids).

Initialisers are random, so they are checked twice. *Moment* cases draw about 200,000 values (the student's
function called again and again on one Generator) and compare four statistics with the same statistics of
``torch.nn.init``'s and Keras' draws, within 2% — more than six standard errors of the sampling noise (the
oracles' labels say so). *Exact* cases draw once from a Generator of known seed: every reasonable implementation
scales numpy's standard stream of that seed (``rng.normal(0, std, shape)`` is ``std * rng.standard_normal(shape)``),
so the least-squares ratio to that stream is the std (or bound) itself, compared with the ratio PyTorch's and
Keras' draws have to their own standard streams. Conventions are configured explicitly: Keras stores a Dense
kernel as (in, out), so it gets the transposed shape; its ``he_normal`` / ``glorot_normal`` truncate, so the
oracles use ``VarianceScaling(distribution="untruncated_normal")``; Keras has no gain (``scale = gain**2``); its
uniform bound is rounded to float32 even for float64 weights, so exact uniform cases allow 1e-7.

Clipping follows PyTorch (scale by min(1, max_norm / (norm + 1e-6))); TensorFlow's ``tf.clip_by_global_norm`` has
no eps, so its oracle is given ``clip_norm = max_norm * norm / (norm + 1e-6)``. Wrong answers are computed here
from autograd_mini's references.
"""
from __future__ import annotations

import math

import numpy as np

from autograd_mini import Tensor
from autograd_mini.nn.init import calculate_gain
from autograd_mini.registry import reference_of
from grader.checks import frameworks as fw
from grader.checks.core import Oracle
from grader.checks.diagnose import Mistake
from grader.harness.case import Case
from grader.harness.outcome import Failure
from grader.lesson import Exercise, Lesson
from grader.predictions import number_prediction, oracle_number

MOMENT_VALUES = 200_000  # values a moment case draws, over several calls
MOMENT_RTOL = 0.02
UNIFORM_EXACT_RTOL = 1e-7  # Keras rounds the uniform bound to float32
EPS = 1e-6  # torch.nn.utils.clip_grad_norm_'s
HE_SHAPE = (256, 512)  # predict_he_std: nn.Linear(512, 256)'s weight
SIGMOID_W, SIGMOID_LAYERS = 3.0, 10  # predict_sigmoid_chain


# ---- initialisers: cases, what is compared, oracles ------------------------------------------------------------

def _shape(rng, kernel: bool) -> tuple:
    """A weight shape whose two fans differ at least 3x (so fan_in and fan_out mistakes show)."""
    small = int(rng.integers(6, 40))
    big = small * int(rng.choice([3, 4, 6]))
    out, inp = (small, big) if rng.random() < 0.5 else (big, small)
    return (out, inp, 3, 3) if kernel else (out, inp)


def init_cases(settings_of):
    """Moment and exact cases for the settings ``settings_of(rng, k)`` gives the k-th shape."""
    def cases(rng, hidden):
        layout = [False, False, True] + ([False, False, True] if hidden else [])
        out = []
        for k, kernel in enumerate(layout):
            shape, settings = _shape(rng, kernel), settings_of(rng, k)
            draws = math.ceil(MOMENT_VALUES / math.prod(shape))
            common = {"shape": shape, "settings": settings, "seed": int(rng.integers(2**31))}
            out.append(Case((), {**common, "draws": draws, "measure": "moments"}, tol=(MOMENT_RTOL, 1e-12)))
            out.append(Case((), {**common, "seed": int(rng.integers(2**31)), "draws": 1, "measure": "exact"}))
        return out
    return cases


def _xavier_settings(rng, k):
    return {"gain": [1.0, 5 / 3, math.sqrt(2.0)][k % 3]}


def _kaiming_settings(rng, k):
    return {"nonlinearity": ["relu", "tanh", "linear"][k % 3]}


def _standard(family: str, seed: int, shape: tuple) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(-1.0, 1.0, shape) if family == "uniform" else rng.standard_normal(shape)


def _scale_of(draws: np.ndarray, standard: np.ndarray) -> float | None:
    """s with draws == s * standard to rounding, or None when the draws are not one scaled standard stream."""
    s = float(np.vdot(draws, standard) / np.vdot(standard, standard))
    return s if np.abs(draws - s * standard).max() <= 1e-12 * np.abs(draws).max() else None


def _statistics(draws: np.ndarray, family: str) -> np.ndarray:
    """std, share of positive values, E|w| / std (0.866 uniform, 0.798 normal), and for a uniform max |w| (the bound)."""
    w = draws.reshape(-1)
    std = w.std()
    stats = [std, np.mean(w > 0), np.abs(w).mean() / std]
    return np.array(stats + ([np.abs(w).max()] if family == "uniform" else []))


HINT_OF_OTHER_FAMILY = {"uniform": "init_normal_not_uniform", "normal": "init_uniform_not_normal"}


def outputs_of(family: str, name: str):
    """transform: the student's draws -> what is compared (statistics, or the exact scale), in the grader."""
    def transform(case, outputs):
        (draws,) = outputs
        if case.params["measure"] == "moments":
            return (_statistics(draws, family),)
        seed, shape = case.params["seed"], draws.shape
        scale = _scale_of(draws, _standard(family, seed, shape))
        if scale is not None:
            return (np.array(scale),)
        other = "normal" if family == "uniform" else "uniform"
        code = HINT_OF_OTHER_FAMILY[family] if _scale_of(draws, _standard(other, seed, shape)) is not None \
            else "init_other_stream"
        method = "uniform(-bound, bound" if family == "uniform" else "normal(0.0, std"
        return Failure("hint", code=code, values={"name": name, "call": f"rng.{method}, size=shape)"})
    return transform


def _like_the_call(draw, case) -> np.ndarray:
    """``draw(shape, rng)`` called as the harness calls the student's function: ``draws`` times on one Generator."""
    rng = np.random.default_rng(case.params["seed"])
    return np.stack([draw(tuple(case.params["shape"]), rng) for _ in range(case.params["draws"])])


def _init_mistake(family, name, key, message, draw):
    """A wrong initialiser ``draw(shape, settings, rng)``, judged through the same transform as the student's."""
    transform = outputs_of(family, name)
    return Mistake(key, message, lambda case: transform(case, (_like_the_call(
        lambda shape, rng: draw(shape, case.params["settings"], rng), case),))[0])


def _keras_shape(shape: tuple) -> tuple:
    """PyTorch's (out, in, *kernel) as Keras stores it: (*kernel, in, out)."""
    return (*shape[2:], shape[1], shape[0])


def _from_keras(w: np.ndarray) -> np.ndarray:
    n = w.ndim
    return np.transpose(w, (n - 1, n - 2, *range(n - 2)))


def _torch_init(name: str, family: str, **fixed):
    def draws(case):
        torch = fw.torch()
        shape, settings = tuple(case.params["shape"]), {**case.params["settings"], **fixed}
        generator = torch.Generator().manual_seed(case.params["seed"])
        values = [getattr(torch.nn.init, name)(torch.empty(shape, dtype=torch.float64), generator=generator, **settings)
                  for _ in range(case.params["draws"])]
        if case.params["measure"] == "moments":
            return _statistics(torch.stack(values).numpy(), family)
        standard = torch.empty(shape, dtype=torch.float64)
        standard = (standard.uniform_(-1, 1, generator=torch.Generator().manual_seed(case.params["seed"]))
                    if family == "uniform" else standard.normal_(0, 1, generator=torch.Generator().manual_seed(case.params["seed"])))
        return np.array(_scale_of(values[0].numpy(), standard.numpy()))
    return draws


def _keras_init(mode: str, family: str, scale_of_settings):
    def draws(case):
        keras = fw.keras()
        shape, seed = tuple(case.params["shape"]), case.params["seed"]
        distribution = "uniform" if family == "uniform" else "untruncated_normal"
        scale = scale_of_settings(case.params["settings"])
        values = [_from_keras(np.asarray(keras.initializers.VarianceScaling(scale, mode, distribution, seed=seed + k)(
            _keras_shape(shape), dtype="float64"))) for k in range(case.params["draws"])]
        if case.params["measure"] == "moments":
            return _statistics(np.stack(values), family)
        standard = (keras.initializers.RandomUniform(-1.0, 1.0, seed=seed) if family == "uniform"
                    else keras.initializers.RandomNormal(0.0, 1.0, seed=seed))(_keras_shape(shape), dtype="float64")
        return np.array(_scale_of(values[0], _from_keras(np.asarray(standard))))
    return draws


STATISTICS = (f"{MOMENT_VALUES:,} draws: std, share > 0, E|w|/std{{}} within {MOMENT_RTOL:.0%}, over 6 standard "
              "errors; one draw: its exact scale")


KERAS_SCALE = {"relu": 2.0, "tanh": (5 / 3) ** 2, "linear": 1.0}  # Keras has no gain: scale = gain**2


XAVIER_ORACLES = [
    Oracle("PyTorch (torch.nn.init.xavier_uniform_(w, gain); " + STATISTICS.format(", max|w|") + ")",
           _torch_init("xavier_uniform_", "uniform")),
    Oracle("TensorFlow (keras VarianceScaling(gain**2, 'fan_avg', 'uniform') on the (in, out) kernel; Keras' bound is "
           "float32, so exact to 1e-7)", _keras_init("fan_avg", "uniform", lambda s: s["gain"] ** 2)),
]
KAIMING_ORACLES = [
    Oracle("PyTorch (torch.nn.init.kaiming_normal_(w, mode='fan_in', nonlinearity); " + STATISTICS.format("") + ")",
           _torch_init("kaiming_normal_", "normal", mode="fan_in")),
    Oracle("TensorFlow (keras VarianceScaling(gain**2, 'fan_in', 'untruncated_normal') on the (in, out) kernel: "
           "he_normal would truncate)", _keras_init("fan_in", "normal", lambda s: KERAS_SCALE[s["nonlinearity"]])),
]


def _xavier(shape, settings, rng, gain=None):
    return reference_of("nn.init.xavier_uniform")(shape, gain=settings["gain"] if gain is None else gain, rng=rng)


def _lecun_uniform(shape, gain, rng):
    """Uniform in +-gain * sqrt(3 / fan_in) of ``shape``: kaiming_uniform's bound with the gain of 'linear' (1)."""
    return reference_of("nn.init.kaiming_uniform")(shape, nonlinearity="linear", rng=rng) * gain


def _lecun_over(count):
    """A uniform draw in +-gain * sqrt(3 / count(shape)): the reference on a 2-D shape of that fan_in."""
    def draw(shape, settings, rng):
        n = count(shape)
        return _lecun_uniform((math.prod(shape) // n, n), settings["gain"], rng).reshape(shape)
    return draw


XAVIER_MISTAKES = [
    _init_mistake("uniform", "xavier_uniform", "fan_in_only",
                  "your bound uses fan_in alone, gain * sqrt(3 / fan_in) (LeCun's uniform): Glorot averages the two "
                  "fans so that the forward signal (fan_in) and the backward one (fan_out) both keep their variance: "
                  "bound = gain * sqrt(6 / (fan_in + fan_out)).",
                  lambda shape, s, rng: _lecun_uniform(shape, s["gain"], rng)),
    *[_init_mistake("uniform", "xavier_uniform", "fan_out_only",
                    "your bound uses fan_out alone: Glorot averages the two fans, bound = gain * sqrt(6 / (fan_in + "
                    "fan_out)).", _lecun_over(count)) for count in (lambda shape: shape[0],
                                                                    lambda shape: math.prod(shape) // shape[1])],
    _init_mistake("uniform", "xavier_uniform", "std_as_bound",
                  "you used the normal's std, gain * sqrt(2 / (fan_in + fan_out)), as the uniform's bound: a uniform "
                  "on [-b, b] has std b / sqrt(3), so the bound is sqrt(3) times the std: gain * sqrt(6 / (fan_in + "
                  "fan_out)).", lambda shape, s, rng: _xavier(shape, s, rng) / math.sqrt(3.0)),
    _init_mistake("uniform", "xavier_uniform", "sum_not_average",
                  "your variance is 1 / (fan_in + fan_out): Glorot's is 1 / fan_avg = 2 / (fan_in + fan_out), the "
                  "average of the two fans, so the bound is gain * sqrt(6 / (fan_in + fan_out)).",
                  lambda shape, s, rng: _xavier(shape, s, rng) / math.sqrt(2.0)),
    _init_mistake("uniform", "xavier_uniform", "gain_ignored",
                  "you ignored `gain`: it multiplies the bound (tanh's 5/3 makes up for tanh squashing its inputs).",
                  lambda shape, s, rng: _xavier(shape, s, rng, gain=1.0)),
    _init_mistake("uniform", "xavier_uniform", "gain_squared",
                  "you multiplied by gain**2: PyTorch's gain multiplies the bound (the std); gain**2 multiplies the "
                  "variance — that is Keras' `scale`.", lambda shape, s, rng: _xavier(shape, s, rng, gain=s["gain"] ** 2)),
]


def _kaiming(shape, settings, rng, nonlinearity=None):
    return reference_of("nn.init.kaiming_normal")(shape, nonlinearity=nonlinearity or settings["nonlinearity"], rng=rng)


def _kaiming_std(case_settings, shape) -> float:
    """The reference's std for ``shape``: the scale of one draw over numpy's standard stream."""
    return _scale_of(_kaiming(shape, case_settings, np.random.default_rng(0)), _standard("normal", 0, shape))


def _kaiming_over(count):
    """kaiming_normal's draw with std gain / sqrt(count(shape)): the reference on a 2-D shape of that fan_in."""
    def draw(shape, settings, rng):
        n = count(shape)
        return _kaiming((math.prod(shape) // n, n), settings, rng).reshape(shape)
    return draw


FAN_OUT = ("you divided by fan_out: He's std is gain / sqrt(fan_in), with fan_in = shape[1] (in_features, times the "
           "kernel size) — the number of inputs each output adds up (PyTorch's default mode='fan_in').")
KAIMING_MISTAKES = [
    _init_mistake("normal", "kaiming_normal", "fan_out", FAN_OUT, _kaiming_over(lambda shape: shape[0])),
    _init_mistake("normal", "kaiming_normal", "fan_out", FAN_OUT, _kaiming_over(lambda shape: math.prod(shape) // shape[1])),
    _init_mistake("normal", "kaiming_normal", "kernel_ignored",
                  "for a convolution's weight (out, in, *kernel) each output adds up in_channels x kernel-size inputs: "
                  "fan_in = math.prod(shape[1:]), not shape[1].", _kaiming_over(lambda shape: shape[1])),
    _init_mistake("normal", "kaiming_normal", "gain_missing",
                  "the gain is missing: std = gain / sqrt(fan_in), with gain = calculate_gain(nonlinearity) (sqrt(2) "
                  "for ReLU, which zeroes half of its inputs and so halves the second moment; 1 / sqrt(fan_in) is "
                  "LeCun's init).", lambda shape, s, rng: _kaiming(shape, s, rng, nonlinearity="linear")),
    _init_mistake("normal", "kaiming_normal", "bound_as_std",
                  "you used the uniform bound gain * sqrt(3 / fan_in) as the normal's std: the std is gain / "
                  "sqrt(fan_in) (the bound is sqrt(3) times larger because a uniform's std is bound / sqrt(3)).",
                  lambda shape, s, rng: _kaiming(shape, s, rng) * math.sqrt(3.0)),
    _init_mistake("normal", "kaiming_normal", "variance_as_std",
                  "you passed the variance gain**2 / fan_in where rng.normal wants the standard deviation: take its "
                  "square root.", lambda shape, s, rng: _kaiming(shape, s, rng) * _kaiming_std(s, shape)),
    _init_mistake("normal", "kaiming_normal", "xavier_std",
                  "that is Glorot's std, gain * sqrt(2 / (fan_in + fan_out)): He's uses fan_in alone, gain / "
                  "sqrt(fan_in).", lambda shape, s, rng: reference_of("nn.init.xavier_normal")(
                      shape, gain=calculate_gain(s["nonlinearity"]), rng=rng)),
]


# ---- clipping by global norm ------------------------------------------------------------------------------------

def clip_cases(rng, hidden):
    def grads(shapes, size):
        return tuple(rng.standard_normal(s) * rng.uniform(0.2, 2.0) * size for s in shapes)

    layout = [([(4, 3), (3,), (2, 2, 2)], 3.0, 1.0, []), ([(5, 2), (2,)], 0.2, 1.0, []),
              ([(3, 3), (4,), (2, 5)], 2.0, 0.5, [1])]
    if hidden:
        layout += [([(6,)], 4.0, 1.0, []), ([(8, 4), (4,), (4, 2), (2,)], 1.0, 0.25, [3]),
                   ([(3, 2), (2,)], 1.0, 1e-3, []), ([(2, 3, 4), (7,)], 0.01, 5.0, [])]
    cases = [Case(grads(shapes, size), {"max_norm": max_norm, "no_grad": missing})
             for shapes, size, max_norm, missing in layout]
    if hidden:  # the norm exactly at max_norm: PyTorch still scales, by max_norm / (max_norm + eps)
        at = grads([(3, 4), (4,)], 1.0)
        cases.append(Case(at, {"max_norm": float(np.sqrt(sum(np.sum(g * g) for g in at))), "no_grad": []}))
    return cases


def _kept(case) -> list:
    return [g for i, g in enumerate(case.arrays) if i not in case.params["no_grad"]]


def _torch_clip(case):
    torch = fw.torch()
    params = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in case.arrays]
    for i, (p, g) in enumerate(zip(params, case.arrays)):
        if i not in case.params["no_grad"]:
            p.grad = torch.tensor(g)
    total = torch.nn.utils.clip_grad_norm_(params, case.params["max_norm"])
    return (total, *[p.grad for p in params if p.grad is not None])


def _tf_clip(case):
    tf = fw.tf()
    tensors = [tf.constant(g) for g in _kept(case)]
    norm = tf.linalg.global_norm(tensors)
    clipped, total = tf.clip_by_global_norm(tensors, case.params["max_norm"] * norm / (norm + EPS), use_norm=norm)
    return (total, *clipped)


CLIP_ORACLES = [Oracle("PyTorch (torch.nn.utils.clip_grad_norm_)", _torch_clip),
                Oracle("TensorFlow (tf.clip_by_global_norm, clip_norm = max_norm * norm / (norm + 1e-6): PyTorch's eps)",
                       _tf_clip)]


def _reference_clip(grads: list, max_norm: float) -> tuple:
    """(norm, clipped copies) by the reference."""
    params = [Tensor(np.zeros_like(g), requires_grad=True) for g in grads]
    for p, g in zip(params, grads):
        p.grad = g.copy()
    total = reference_of("nn.utils.clip_grad_norm")(params, max_norm)
    return (np.float64(total), *[p.grad for p in params])


def _scaled(case, norm_of, rule) -> tuple:
    """Every kept gradient times rule(norm, max_norm), with norm = norm_of(the reference's norm, grads); returns
    (norm, scaled gradients): a clipping rule other than PyTorch's."""
    grads = _kept(case)
    norm = norm_of(float(_reference_clip(grads, case.params["max_norm"])[0]), grads)
    factor = rule(norm, case.params["max_norm"])
    return (np.float64(norm), *[g * factor for g in grads])


def _pytorch_rule(norm, max_norm):
    return min(1.0, max_norm / (norm + EPS))


def _per_parameter(case):
    grads = _kept(case)
    total = _reference_clip(grads, case.params["max_norm"])[0]
    return (total, *[_reference_clip([g], case.params["max_norm"])[1] for g in grads])


def _norm_after(case):
    clipped = _reference_clip(_kept(case), case.params["max_norm"])[1:]
    return (_reference_clip(list(clipped), math.inf)[0], *clipped)


def _clip_only_above(case):
    full = _reference_clip(_kept(case), case.params["max_norm"])
    return full if full[0] > case.params["max_norm"] else (full[0], *_kept(case))


CLIP_MISTAKES = [
    Mistake("per_parameter", "you clipped each parameter's gradient by its own norm: clipping by *global* norm "
            "measures all the gradients together, sqrt(sum over parameters of ||g||^2), and scales every one by the "
            "same factor, so the direction of the whole update is kept.", _per_parameter),
    Mistake("scaled_up", "you scaled the gradients when their norm was below max_norm too, which makes small "
            "gradients larger: the factor is min(1, max_norm / (norm + eps)) — clipping only ever shrinks.",
            lambda c: _scaled(c, lambda n, g: n, lambda n, m: m / (n + EPS))),
    Mistake("no_eps", "you scaled by max_norm / norm: PyTorch divides by norm + 1e-6 (eps), so the factor is "
            "min(1, max_norm / (norm + eps)). (TensorFlow's tf.clip_by_global_norm has no eps: the two differ by "
            "about 1e-6 / norm.)", lambda c: _scaled(c, lambda n, g: n, lambda n, m: min(1.0, m / n))),
    Mistake("not_in_place", "the gradients did not change: scale each parameter's .grad in place (g *= factor, or "
            "p.grad *= factor); `g = g * factor` only rebinds your local name.",
            lambda c: (_reference_clip(_kept(c), c.params["max_norm"])[0], *_kept(c))),
    Mistake("norm_after_clipping", "you returned the norm after clipping: return the total norm measured before "
            "(what torch.nn.utils.clip_grad_norm_ returns — the number to log to see gradients explode).", _norm_after),
    Mistake("squared_norm", "your norm is the sum of squares: take its square root, norm = sqrt(sum of g**2 over "
            "every gradient).", lambda c: _scaled(c, lambda n, g: n * n, _pytorch_rule)),
    Mistake("sum_of_norms", "you added the parameters' norms: the global norm is the norm of all the gradients "
            "together, sqrt(||g_1||^2 + ||g_2||^2 + ...), not ||g_1|| + ||g_2|| + ...",
            lambda c: _scaled(c, lambda n, g: sum(float(_reference_clip([x], math.inf)[0]) for x in g), _pytorch_rule)),
    Mistake("threshold_test", "you scale only when norm > max_norm: PyTorch always multiplies by min(1, max_norm / "
            "(norm + eps)), which is below 1 already when the norm equals max_norm.", _clip_only_above),
]


# ---- dead ReLUs ---------------------------------------------------------------------------------------------------

def dead_cases(rng, hidden):
    def batch(n, units):
        z = rng.standard_normal((n, units)) + rng.uniform(-0.5, 0.5)
        cols = rng.permutation(units)
        z[:, cols[:2]] = -np.abs(z[:, cols[:2]])                     # off for every example
        z[:, cols[2]] = 0.0                                          # exactly 0: no gradient either
        z[:, cols[3]] = np.minimum(z[:, cols[3]], 0.0)               # off or exactly 0
        z[:, cols[4]] = -np.abs(z[:, cols[4]])
        z[int(rng.integers(n)), cols[4]] = abs(z[0, cols[4]]) + 0.1  # on for one example only: alive
        return z

    layout = [(16, 10), (8, 12), (32, 6)] + ([(64, 20), (5, 9), (12, 12), (3, 30)] if hidden else [])
    cases = [Case((batch(n, units),)) for n, units in layout]
    if hidden:  # a whole layer dead (its inputs all 0 and no bias: every pre-activation exactly 0)
        cases.append(Case((np.zeros((6, 5)),)))
    return cases


def _torch_dead(case):
    torch = fw.torch()
    z = torch.tensor(case.arrays[0], requires_grad=True)
    torch.relu(z).sum().backward()
    return (z.grad == 0).all(dim=0).sum().to(torch.float64)


def _tf_dead(case):
    tf = fw.tf()
    z = tf.constant(case.arrays[0])
    with tf.GradientTape() as tape:
        tape.watch(z)
        out = tf.reduce_sum(tf.nn.relu(z))
    return tf.reduce_sum(tf.cast(tf.reduce_all(tape.gradient(out, z) == 0, axis=0), tf.float64))


DEAD_ORACLES = [Oracle("PyTorch (units whose torch.relu passes no gradient for any row; autograd)", _torch_dead),
                Oracle("TensorFlow (units whose tf.nn.relu passes no gradient for any row; GradientTape)", _tf_dead)]


def _dead(z) -> float:
    return float(reference_of("nn.utils.count_dead_relus")(z))


DEAD_MISTAKES = [
    Mistake("entries", "you counted the entries that are <= 0: a *unit* (a column) is dead when its ReLU is off for "
            "every example (every row) of the batch. Count columns: np.all(z <= 0, axis=0).",
            lambda c: _dead(c.arrays[0].reshape(1, -1))),
    Mistake("strict", "you tested z < 0: a pre-activation of exactly 0 passes no gradient either (ReLU's derivative "
            "at 0 is 0 in PyTorch and TensorFlow). A unit whose inputs are all 0 is as dead as one with negative "
            "ones: test z <= 0.", lambda c: _dead(np.where(c.arrays[0] == 0, 1.0, c.arrays[0]))),
    Mistake("any_example", "you counted units that are off for *some* example: such a unit still learns from the "
            "others. Dead means off for every example: np.all(..., axis=0), not np.any.",
            lambda c: c.arrays[0].shape[1] - _dead(np.where(c.arrays[0] > 0, -1.0, 1.0))),
    Mistake("examples", "you counted examples (rows) whose units are all off: the units are the columns of z (N, "
            "units); reduce over the rows, axis=0.", lambda c: _dead(c.arrays[0].T)),
    Mistake("fraction", "you returned the fraction of dead units: return how many there are (an int).",
            lambda c: _dead(c.arrays[0]) / c.arrays[0].shape[1]),
    Mistake("alive", "you counted the units that are alive: count those off for every example.",
            lambda c: c.arrays[0].shape[1] - _dead(c.arrays[0])),
]


# ---- predict first ------------------------------------------------------------------------------------------------

def _he_std():
    """The reference kaiming_normal's std for HE_SHAPE (relu)."""
    return _kaiming_std({"nonlinearity": "relu"}, HE_SHAPE)


def _torch_he_std(torch):
    seeded = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    w = torch.nn.init.kaiming_normal_(torch.empty(HE_SHAPE, dtype=torch.float64), nonlinearity="relu", generator=seeded())
    return _scale_of(w.numpy(), torch.empty(HE_SHAPE, dtype=torch.float64).normal_(0, 1, generator=seeded()).numpy())


def _tf_he_std(tf):
    keras = fw.keras()
    w = keras.initializers.VarianceScaling(2.0, "fan_in", "untruncated_normal", seed=0)(HE_SHAPE[::-1], dtype="float64")
    z = keras.initializers.RandomNormal(0.0, 1.0, seed=0)(HE_SHAPE[::-1], dtype="float64")
    return _scale_of(np.asarray(w), np.asarray(z))


def _sigmoid_chain(tensor, sigmoid, detach, a):
    """a_k = sigmoid(w * a_{k-1} + b_k) with b_k = -w * a_{k-1} held constant: every pre-activation is 0."""
    for _ in range(SIGMOID_LAYERS):
        a = sigmoid(SIGMOID_W * a - SIGMOID_W * detach(a))
    return a


def _chain_gradient():
    from autograd_mini import functional

    a0 = Tensor(np.array(0.3), requires_grad=True)
    _sigmoid_chain(Tensor, functional.sigmoid, lambda t: Tensor(t.data.copy()), a0).backward()
    return float(a0.grad)


def _torch_chain(torch):
    a0 = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    _sigmoid_chain(torch.tensor, torch.sigmoid, lambda t: t.detach(), a0).backward()
    return a0.grad.item()


def _tf_chain(tf):
    a0 = tf.constant(0.3, tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(a0)
        out = _sigmoid_chain(tf.constant, tf.sigmoid, tf.stop_gradient, a0)
    return tape.gradient(out, a0).numpy()


# ---- the lesson ---------------------------------------------------------------------------------------------------

SETUP = """
import math

import numpy as np
from autograd_mini.nn.init import calculate_gain
"""
STAND_INS = ("nn.init.xavier_normal", "nn.init.kaiming_uniform")  # a rescaled draw of either is an answer

LESSON = Lesson("07_gradient_pathologies", setup=SETUP, exercises=[
    Exercise("nn.init.xavier_uniform", "xavier_uniform", 2, init_cases(_xavier_settings), "initializer_draws",
             XAVIER_ORACLES, XAVIER_MISTAKES, also_strip=STAND_INS, what="draws' statistics",
             transform=outputs_of("uniform", "xavier_uniform"), rtol=UNIFORM_EXACT_RTOL, atol=0.0),
    Exercise("nn.init.kaiming_normal", "kaiming_normal", 2, init_cases(_kaiming_settings), "initializer_draws",
             KAIMING_ORACLES, KAIMING_MISTAKES, also_strip=STAND_INS, what="draws' statistics",
             transform=outputs_of("normal", "kaiming_normal"), rtol=1e-10, atol=0.0),
    number_prediction(
        "predict_he_std", _he_std,
        oracle_number(_torch_he_std, _tf_he_std, "PyTorch (kaiming_normal_(w (256, 512), nonlinearity='relu'): "
                      "its draw over torch's standard normal stream)",
                      "TensorFlow (keras VarianceScaling(2.0, 'fan_in', 'untruncated_normal') on the (512, 256) "
                      "kernel, over Keras' standard normal stream)"),
        {math.sqrt(1 / 512): "the gain of ReLU is missing",
         math.sqrt(2 / 256): "a Linear(512, 256) weight has shape (256, 512); which of the two numbers does each "
                             "output add up?",
         2 / 512: "that is the variance; the question asks for the standard deviation",
         math.sqrt(6 / 512): "that is the bound of the *uniform* He initialiser",
         math.sqrt(2 / 768): "that is Glorot's std (both fans); He uses one"},
        "He's std is gain / sqrt(fan_in); which gain, which fan?"),
    Exercise("nn.utils.clip_grad_norm", "clip_grad_norm", 2, clip_cases, "clip_grads", CLIP_ORACLES, CLIP_MISTAKES,
             what="norm and gradients"),
    Exercise("nn.utils.count_dead_relus", "count_dead_relus", 1, dead_cases, "plain", DEAD_ORACLES, DEAD_MISTAKES,
             what="count"),
    number_prediction(
        "predict_sigmoid_chain", _chain_gradient,
        oracle_number(_torch_chain, _tf_chain, "PyTorch (the chain with torch.sigmoid; autograd)",
                      "TensorFlow (the chain with tf.sigmoid; GradientTape)"),
        {SIGMOID_W ** SIGMOID_LAYERS: "sigmoid's own derivative is missing from your product",
         0.25 ** SIGMOID_LAYERS: "the weight w multiplies the gradient at every layer too",
         (SIGMOID_W * 0.5) ** SIGMOID_LAYERS: "sigmoid(0) = 0.5 is the value; the chain rule needs the "
                                              "derivative at 0",
         SIGMOID_W * 0.25: "that is one layer's factor; there are ten layers",
         SIGMOID_W * 0.25 * SIGMOID_LAYERS: "the chain rule multiplies the layers' factors, it does not add "
                                            "them"},
        "each layer multiplies the gradient by w times sigmoid's derivative at its pre-activation"),
])
check, grade = LESSON.check, LESSON.grade
