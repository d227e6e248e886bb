"""Lesson 06 (training): linear regression by gradient descent, one step of an MLP's training loop, accuracy,
and two predictions (the largest stable learning rate; the learning-rate factor between mean and sum losses).

The training exercises stand on the whole library (``LIBRARY``: layers, losses, optimizers, the engine), so
their sandboxes keep every reference but the scalar ``Value`` lessons'. The wrong runs the diagnoses
compare with are made here, by the harness's own calls on deliberately wrong training code built from
autograd_mini, and the oracles run the same steps with ``torch.optim.SGD`` and Keras' ``SGD`` in float64.
"""
from __future__ import annotations


import numpy as np

from autograd_mini import Tensor, losses, optim
from autograd_mini.registry import names
from grader.checks import frameworks as fw
from grader.checks.core import Oracle
from grader.checks.diagnose import Mistake
from grader.harness.calls.lesson_06 import training_run, training_steps
from grader.harness.case import Case
from grader.lesson import Exercise, Lesson
from grader.predictions import prediction

LIBRARY = tuple(n for n in names() if not n.startswith(("value.", "numerical.")))
BATCH_SIZE = 32  # the digits minibatches (the notebook uses this constant)
TRAIN_SIZE = 1437  # digits kept for training: 1797 minus the notebook's 360 for validation
STABLE_LR_X = (1.0, -1.0, 3.0, -3.0)  # the question's inputs, stated in the notebook
STABLE_LR_Y = (2.0, 0.0, 7.0, -5.0)


# ---- exercise: linear regression by full-batch gradient descent ---------------------------------------

def _design(x: np.ndarray) -> np.ndarray:
    return np.hstack([x, np.ones((len(x), 1))])


def stability_bound(x: np.ndarray, outputs: int = 1) -> float:
    """2 / lambda_max of the Hessian of the mean squared error of ``x @ W.T + b`` (numpy, grader side)."""
    a = _design(x)
    return 2.0 / np.linalg.eigvalsh(2.0 * a.T @ a / (len(x) * outputs)).max()


def regression_case(rng, n: int, d: int, k: int, steps: int, fraction: float) -> Case:
    x = rng.normal(rng.uniform(-1, 1.5), rng.uniform(0.5, 1.5), size=(n, d))
    y = x @ rng.normal(size=(d, k)) + rng.normal(size=k) + 0.3 * rng.normal(size=(n, k))
    bound = 1.0 / np.sqrt(d)
    weight, bias = rng.uniform(-bound, bound, (k, d)), rng.uniform(-bound, bound, k)
    return Case((x, y, weight, bias), {"lr": float(fraction * stability_bound(x, k)), "steps": steps})


def regression_cases(rng, hidden):
    # (N, d, k, steps, lr as a fraction of the stability bound); few steps, so that a summed loss (an lr N times
    # too large) stays finite and is recognised
    layout = [(20, 1, 1, 40, 0.5), (30, 3, 1, 30, 0.8), (16, 2, 2, 30, 0.4)]
    layout += [(12, 1, 1, 40, 0.95), (25, 4, 1, 30, 0.3), (8, 2, 3, 40, 0.7), (40, 1, 1, 25, 0.6)] if hidden else []
    return [regression_case(rng, n, d, k, steps, rng.uniform(0.9, 1.0) * f) for n, d, k, steps, f in layout]


def _torch_regression(case: Case):
    torch = fw.torch()
    x, y, weight, bias = (torch.tensor(a) for a in case.arrays)
    model = torch.nn.Linear(x.shape[1], y.shape[1], dtype=torch.float64)
    with torch.no_grad():
        model.weight.copy_(weight)
        model.bias.copy_(bias)
    optimizer = torch.optim.SGD(model.parameters(), lr=case.params["lr"])
    curve = []
    for _ in range(case.params["steps"]):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        curve.append(loss.item())
    return np.array(curve), model.weight.detach(), model.bias.detach()


def _tf_regression(case: Case):
    tf = fw.tf()
    x, y, weight, bias = case.arrays
    kernel, offset = tf.Variable(weight.T), tf.Variable(bias)  # a Keras Dense layer's (d, k) kernel and bias
    with fw.keras_float64() as keras:
        loss_fn = keras.losses.MeanSquaredError()
        optimizer = keras.optimizers.SGD(learning_rate=np.float64(case.params["lr"]))
        curve = []
        for _ in range(case.params["steps"]):
            with tf.GradientTape() as tape:
                loss = loss_fn(tf.constant(y), tf.constant(x) @ kernel + offset)  # Keras: (y_true, y_pred)
            variables = [kernel, offset]
            optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
            curve.append(float(loss))
    return np.array(curve), tf.transpose(kernel), offset


# Wrong training runs, each one mistake (same signature as the student's function).

def _parameters(weight, bias):
    return Tensor(weight, requires_grad=True), Tensor(bias, requires_grad=True)


def _run(x, y, weight, bias, lr, steps, step):
    weight, bias = _parameters(weight, bias)
    optimizer = optim.SGD([weight, bias], lr=lr)
    curve = [step(Tensor(x), Tensor(y), weight, bias, optimizer) for _ in range(steps)]
    return np.array(curve), weight.data, bias.data


def _accumulating(x, y, weight, bias, lr, steps):
    def step(x, y, weight, bias, optimizer):  # no zero_grad: every backward adds to the old gradients
        loss = losses.mse_loss(x @ weight.T + bias, y)
        loss.backward()
        optimizer.step()
        return loss.item()
    return _run(x, y, weight, bias, lr, steps, step)


def _summed(x, y, weight, bias, lr, steps):
    def step(x, y, weight, bias, optimizer):
        optimizer.zero_grad()
        loss = losses.mse_loss(x @ weight.T + bias, y, reduction="sum")
        loss.backward()
        optimizer.step()
        return loss.item()
    return _run(x, y, weight, bias, lr, steps, step)


def _halved(x, y, weight, bias, lr, steps):
    def step(x, y, weight, bias, optimizer):
        optimizer.zero_grad()
        loss = 0.5 * losses.mse_loss(x @ weight.T + bias, y)
        loss.backward()
        optimizer.step()
        return loss.item()
    return _run(x, y, weight, bias, lr, steps, step)


def _recorded_after_step(x, y, weight, bias, lr, steps):
    def step(x, y, weight, bias, optimizer):
        optimizer.zero_grad()
        losses.mse_loss(x @ weight.T + bias, y).backward()
        optimizer.step()
        return losses.mse_loss(x @ weight.T + bias, y).item()
    return _run(x, y, weight, bias, lr, steps, step)


def _never_updated(x, y, weight, bias, lr, steps):
    loss = losses.mse_loss(Tensor(x) @ Tensor(weight).T + Tensor(bias), Tensor(y)).item()
    return np.full(steps, loss), weight, bias


def _wrong_run(train):
    return lambda case: training_run(train, case)


REGRESSION_MISTAKES = [
    Mistake("gradients_accumulate", "every step moved further than the last one asks: backward() *adds* to .grad, "
            "so without optimizer.zero_grad() (or w.grad = None) at the start of each step the gradients of all "
            "earlier steps are applied again.", _wrong_run(_accumulating)),
    Mistake("loss_summed", "your steps are N times too large (N = number of entries of y): you minimised the *sum* "
            "of squared errors. mse_loss averages (reduction='mean'), as PyTorch's and Keras' do; with a sum the "
            "gradient, and so the step, grows with the dataset.", _wrong_run(_summed)),
    Mistake("loss_halved", "you minimised half the mean squared error (the 1/2 some texts put in front): its "
            "gradient, and so every step, is half of PyTorch's. Use the mean squared error itself.",
            _wrong_run(_halved)),
    Mistake("loss_after_step", "your losses are one step late: record the loss computed in the step's forward "
            "pass, before optimizer.step() changes the parameters.", _wrong_run(_recorded_after_step)),
    Mistake("never_updated", "the loss never changes: the parameters were not updated. Call optimizer.step() "
            "after loss.backward() (or change w.data in place).", _wrong_run(_never_updated)),
]


# ---- exercise: one step of the MLP's training loop -----------------------------------------------------

def step_case(rng, d: int, hidden: int, classes: int, batch: int, activation: str, lr: float, momentum: float,
              steps: int = 3) -> Case:
    x = rng.normal(size=(steps, batch, d))
    labels = rng.integers(0, classes, size=(steps, batch))
    weights = []
    for n_in, n_out in ((d, hidden), (hidden, classes)):
        bound = 1.0 / np.sqrt(n_in)
        weights += [rng.uniform(-bound, bound, (n_out, n_in)), rng.uniform(-bound, bound, n_out)]
    return Case((x, labels, *weights), {"activation": activation, "sgd": {"lr": lr, "momentum": momentum}})


def step_cases(rng, hidden):
    layout = [(8, 6, 3, 5, "relu", 0.5, 0.0), (6, 5, 4, 4, "tanh", 0.3, 0.9)]
    layout += [(12, 10, 5, 8, "relu", 0.2, 0.9), (5, 7, 3, 6, "tanh", 0.8, 0.0), (10, 4, 2, 3, "relu", 0.1, 0.5),
               (4, 8, 6, 7, "relu", 0.4, 0.0)] if hidden else []
    return [step_case(rng, *row) for row in layout]


def _torch_steps(case: Case):
    torch = fw.torch()
    x_batches, label_batches, *weights = case.arrays
    params = [torch.tensor(w, requires_grad=True) for w in weights]
    activation = {"relu": torch.relu, "tanh": torch.tanh}[case.params["activation"]]
    optimizer = torch.optim.SGD(params, **case.params["sgd"])
    curve, trajectory = [], []
    for x, labels in zip(x_batches, label_batches):
        optimizer.zero_grad()
        hidden = activation(torch.tensor(x) @ params[0].T + params[1])
        loss = torch.nn.functional.cross_entropy(hidden @ params[2].T + params[3], torch.tensor(labels))
        loss.backward()
        optimizer.step()
        curve.append(loss.item())
        trajectory.append(np.concatenate([p.detach().numpy().ravel() for p in params]))
    return np.array(curve), np.stack(trajectory)


def _tf_steps(case: Case):
    tf = fw.tf()
    x_batches, label_batches, *weights = case.arrays
    variables = [tf.Variable(w) for w in weights]
    activation = {"relu": tf.nn.relu, "tanh": tf.tanh}[case.params["activation"]]
    sgd = case.params["sgd"]
    with fw.keras_float64() as keras:
        loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        # Keras' momentum (v = m v - lr g; p += v) gives torch's iterates (b = m b + g; p -= lr b) at a fixed lr
        optimizer = keras.optimizers.SGD(np.float64(sgd["lr"]), momentum=np.float64(sgd["momentum"]))
        curve, trajectory = [], []
        for x, labels in zip(x_batches, label_batches):
            with tf.GradientTape() as tape:
                hidden = activation(tf.matmul(tf.constant(x), variables[0], transpose_b=True) + variables[1])
                logits = tf.matmul(hidden, variables[2], transpose_b=True) + variables[3]
                loss = loss_fn(tf.constant(labels), logits)  # (y_true, y_pred)
            optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
            curve.append(float(loss))
            trajectory.append(np.concatenate([v.numpy().ravel() for v in variables]))
    return np.array(curve), np.stack(trajectory)


def _step_accumulating(model, optimizer, x, labels):
    loss = losses.cross_entropy(model(x), labels)  # no optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def _step_summed(model, optimizer, x, labels):
    optimizer.zero_grad()
    loss = losses.cross_entropy(model(x), labels, reduction="sum")
    loss.backward()
    optimizer.step()
    return loss.item()


def _step_summed_reporting_mean(model, optimizer, x, labels):
    optimizer.zero_grad()
    loss = losses.cross_entropy(model(x), labels, reduction="sum")
    loss.backward()
    optimizer.step()
    return loss.item() / len(labels)


STEP_MISTAKES = [
    Mistake("gradients_accumulate", "the first step matches, the later ones do not: backward() *adds* to each "
            "parameter's .grad, so without optimizer.zero_grad() before it every step also applies the gradients "
            "of all earlier batches.", lambda case: training_steps(_step_accumulating, case)),
    Mistake("loss_summed", "your steps are B times too large (B = the batch size): you summed the losses of the "
            "batch (reduction='sum'). cross_entropy averages over the batch by default, as PyTorch's and Keras' "
            "do, so the learning rate does not depend on the batch size.",
            lambda case: training_steps(_step_summed, case)),
    Mistake("loss_summed", "your steps are B times too large (B = the batch size): the gradient came from the "
            "*sum* of the batch's losses (reduction='sum'), even if the loss you return is the mean. Let "
            "cross_entropy average (its default).", lambda case: training_steps(_step_summed_reporting_mean, case)),
]


# ---- exercise: accuracy -------------------------------------------------------------------------------

def accuracy_cases(rng, hidden):
    layout = [(10, 3), (25, 10), (7, 2)] + ([(1, 4), (64, 10), (13, 5), (40, 2)] if hidden else [])
    cases = []
    for n, c in layout:
        logits = rng.normal(size=(n, c))
        labels = rng.integers(0, c, size=n)
        right = rng.random(n) < 0.6
        labels[right] = logits.argmax(axis=1)[right]
        labels[0] = logits[0].argmax()  # never 0 correct, so a factor (count, percent) is recognisable
        cases.append(Case((logits, labels)))
    return cases


def _torch_accuracy(case):
    torch = fw.torch()
    logits, labels = (torch.tensor(a) for a in case.arrays)
    return (logits.argmax(dim=1) == labels).double().mean()


def _tf_accuracy(case):
    tf = fw.tf()
    logits, labels = case.arrays
    return tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, axis=1), labels), tf.float64))


ACCURACY_MISTAKES = [
    Mistake("count_not_fraction", "you returned how many predictions are right: accuracy is the *fraction* right, "
            "divide by the number of examples (or take the mean of the boolean array).",
            lambda case: float((case.arrays[0].argmax(axis=1) == case.arrays[1]).sum())),
    Mistake("percent", "you returned a percentage: return the fraction, between 0 and 1.",
            lambda case: 100.0 * (case.arrays[0].argmax(axis=1) == case.arrays[1]).mean()),
]


# ---- predictions: the answer is a number the student's function returns ----------------------------------

PREDICTION_RTOL = 1e-6


def stable_lr_cases(rng, hidden):
    return [Case((), {}, tol=(PREDICTION_RTOL, 0.0), inputs=(np.array(STABLE_LR_X), np.array(STABLE_LR_Y)))]


def _hessian_eigenvalues_torch(case):
    torch = fw.torch()
    x, y = (torch.tensor(a) for a in case.inputs)

    def loss(params):
        return ((params[0] * x + params[1] - y) ** 2).mean()
    return torch.linalg.eigvalsh(torch.autograd.functional.hessian(loss, torch.zeros(2, dtype=torch.float64)))


def _hessian_eigenvalues_tf(case):
    tf = fw.tf()
    x, y = (tf.constant(a) for a in case.inputs)
    params = tf.Variable(tf.zeros(2, dtype=tf.float64))
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            loss = tf.reduce_mean((params[0] * x + params[1] - y) ** 2)
        gradient = inner.gradient(loss, params)
    return tf.linalg.eigvalsh(outer.jacobian(gradient, params))


def _largest_stable_lr(eigenvalues):
    return lambda case: 2.0 / fw.to_numpy(eigenvalues(case)).max()


def _from_curvatures(rate):
    """A wrong answer computed from the Hessian's eigenvalues (numpy), ``rate(smallest, largest)``."""
    def wrong(case):
        eigenvalues = np.linalg.eigvalsh(2.0 * _design(case.inputs[0][:, None]).T @ _design(case.inputs[0][:, None])
                                         / len(case.inputs[0]))
        return rate(eigenvalues.min(), eigenvalues.max())
    return wrong


STABLE_LR_MISTAKES = [
    Mistake("one_over_lambda", "that is 1/lambda_max, the learning rate that crosses the steepest direction's "
            "valley in one step. Gradient descent still converges above it, zig-zagging, up to 2/lambda_max: "
            "along that direction each step multiplies the error by (1 - lr lambda_max), which must stay above -1.",
            _from_curvatures(lambda low, high: 1.0 / high)),
    Mistake("hessian_without_two", "you used mean(x^2) as the curvature: the loss squares the error, so its "
            "second derivative in w is 2 mean(x^2). The bound is 2 / lambda_max of that Hessian.",
            _from_curvatures(lambda low, high: 4.0 / high)),
    Mistake("smallest_curvature", "you used the *smallest* curvature (the bias direction, 2): the step must be "
            "stable along every direction, so the largest eigenvalue of the Hessian sets the bound.",
            _from_curvatures(lambda low, high: 2.0 / low)),
]


def lr_factor_cases(rng, hidden):
    return [Case((), {}, tol=(PREDICTION_RTOL, 0.0), inputs=(rng.normal(size=(BATCH_SIZE, 10)),
                                                   rng.integers(0, 10, size=BATCH_SIZE)))]


def _torch_sum_over_mean(case):
    torch = fw.torch()
    logits, labels = torch.tensor(case.inputs[0], requires_grad=True), torch.tensor(case.inputs[1])
    summed, = torch.autograd.grad(torch.nn.functional.cross_entropy(logits, labels, reduction="sum"), logits)
    mean, = torch.autograd.grad(torch.nn.functional.cross_entropy(logits, labels), logits)
    return (summed / mean).mean()


def _tf_sum_over_mean(case):
    tf = fw.tf()
    logits, labels = tf.constant(case.inputs[0]), tf.constant(case.inputs[1])
    grads = []
    with fw.keras_float64() as keras:
        for reduction in ("sum", "sum_over_batch_size"):
            loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=reduction)
            with tf.GradientTape() as tape:
                tape.watch(logits)
                loss = loss_fn(labels, logits)
            grads.append(tape.gradient(loss, logits))
    return tf.reduce_mean(grads[0] / grads[1])


LR_FACTOR_MISTAKES = [
    Mistake("training_set_size", "the sum runs over the *minibatch* the loss is computed on, not over the whole "
            "training set: each step sees B examples, so the gradient grows by B.",
            lambda case: float(TRAIN_SIZE)),
    Mistake("inverse_factor", "the other way round: a sum is B times larger than a mean, so its gradient is too, "
            "and the learning rate must be *divided* by B. Answer with that factor B.",
            lambda case: 1.0 / len(case.inputs[1])),
    Mistake("number_of_classes", "cross_entropy averages over the *examples* of the batch, one loss each, not over "
            "the classes: the factor is the number of examples in the batch.",
            lambda case: float(case.inputs[0].shape[1])),
]

# ---- the lesson ----------------------------------------------------------------------------------

SETUP = """
import numpy as np
import autograd_mini
from autograd_mini import Tensor, losses, nn, optim
"""

LESSON = Lesson("06_training", setup=SETUP, exercises=[
    Exercise("linear_regression", "train_linear_regression", 3, regression_cases, "training_run",
             [Oracle("PyTorch (nn.Linear, optim.SGD)", _torch_regression),
              Oracle("TensorFlow (Keras MeanSquaredError, SGD)", _tf_regression)],
             REGRESSION_MISTAKES, needs=LIBRARY, what="result"),
    prediction("predict_stable_lr", "predict_largest_stable_lr", _largest_stable_lr(_hessian_eigenvalues_torch),
               [Oracle("PyTorch (2 / eigvalsh of autograd.functional.hessian)",
                       _largest_stable_lr(_hessian_eigenvalues_torch)),
                Oracle("TensorFlow (2 / eigvalsh of a GradientTape jacobian)",
                       _largest_stable_lr(_hessian_eigenvalues_tf))],
               mistakes=STABLE_LR_MISTAKES, rtol=PREDICTION_RTOL, cases=stable_lr_cases,
               advice="write the loss's Hessian in (w, b): its diagonal is 2 mean(x^2) and 2, and along each "
                      "eigenvector a step multiplies the error by (1 - lr lambda)"),
    Exercise("accuracy", "accuracy", 1, accuracy_cases, "plain",
             [Oracle("PyTorch (argmax == labels).mean()", _torch_accuracy),
              Oracle("TensorFlow (argmax == labels).mean()", _tf_accuracy)],
             ACCURACY_MISTAKES, what="accuracy"),
    prediction("predict_lr_factor", "predict_lr_factor_for_sum", _torch_sum_over_mean,
               [Oracle("PyTorch (gradient of sum / of mean)", _torch_sum_over_mean),
                Oracle("TensorFlow (Keras reduction='sum' / default)", _tf_sum_over_mean)],
               mistakes=LR_FACTOR_MISTAKES, rtol=PREDICTION_RTOL, cases=lr_factor_cases,
               advice="compare the gradient of a mean of the batch's losses with that of their sum"),
    Exercise("training_step", "training_step", 3, step_cases, "training_steps",
             [Oracle("PyTorch (optim.SGD)", _torch_steps), Oracle("TensorFlow (Keras SGD)", _tf_steps)],
             STEP_MISTAKES, needs=LIBRARY, what="result"),
])
check, grade = LESSON.check, LESSON.grade
