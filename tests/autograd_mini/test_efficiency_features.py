"""Lesson 08's library pieces against PyTorch and TensorFlow in float64: the fused linear op, gradient
checkpointing (torch.utils.checkpoint, tf.recompute_grad), the bytes a tape keeps (PyTorch's saved-tensor
hooks) and trace-and-replay (equal to eager, retraced when shapes or dtypes change)."""
from __future__ import annotations

import copy

import numpy as np
import pytest

import autograd_mini as am
from autograd_mini import Tensor, nn, optim
from autograd_mini.checkpointing import segment_bounds
from autograd_mini.memory import saved_bytes


def rng(seed):
    return np.random.default_rng(seed)


# ---- fused linear ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("x_shape", [(5, 3), (3,), (2, 4, 3)])
def test_fused_linear_is_one_node_equal_to_pytorch_and_tensorflow(oracles, close, x_shape):
    torch, tf = oracles.torch, oracles.tf
    g = rng(1)
    x, w, b = g.standard_normal(x_shape), g.standard_normal((4, 3)), g.standard_normal(4)
    up = g.standard_normal(x_shape[:-1] + (4,))
    tensors = [Tensor(a, requires_grad=True) for a in (x, w, b)]
    out = am.functional.linear(*tensors)
    assert out.op == "fused_linear" and out.parents == tuple(tensors)
    out.backward(up)

    tt = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    t_out = torch.nn.functional.linear(*tt)
    t_grads = torch.autograd.grad(t_out, tt, grad_outputs=torch.tensor(up))
    tv = [tf.constant(a) for a in (x, w, b)]
    with tf.GradientTape() as tape:
        tape.watch(tv)
        f_out = tf.tensordot(tv[0], tf.transpose(tv[1]), axes=1) + tv[2]
    f_grads = tape.gradient(f_out, tv, output_gradients=tf.constant(up))
    for theirs, their_grads in ((t_out.detach().numpy(), [g.numpy() for g in t_grads]),
                                (f_out.numpy(), [g.numpy() for g in f_grads])):
        close(out.data, theirs, "output")
        for name, tensor, grad in zip(("x", "weight", "bias"), tensors, their_grads):
            close(tensor.grad, grad, f"d/d{name}")


def test_a_students_linear_plugged_in_runs_instead_of_the_fused_op():
    calls = []

    def linear(x, weight, bias):
        calls.append(1)
        return x @ weight.T + bias

    layer = nn.Linear(3, 2, rng=rng(0))
    with am.use({"linear": linear}):
        out = layer(Tensor(np.ones((1, 3))))
    assert calls and out.op == "add"


# ---- the bytes a tape keeps -----------------------------------------------------------------------------------

def torch_saved_bytes(torch, loss_of, leaves):
    """What PyTorch's autograd saves for backward while ``loss_of(*leaves)`` runs, counted as saved_bytes counts:
    once per storage, the leaves' own storage excluded."""
    kept, leaf_storage = {}, {t.untyped_storage().data_ptr() for t in leaves}

    def pack(t):
        storage = t.untyped_storage()
        kept[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = loss_of(*leaves)
    return loss, sum(n for ptr, n in kept.items() if ptr not in leaf_storage)


def tanh_mlp(depth, width, g):
    return nn.MLP([width] * (depth + 1), activation="tanh", rng=g)


def test_saved_bytes_equals_what_pytorchs_saved_tensor_hooks_see(torch):
    g = rng(2)
    model = tanh_mlp(6, 8, g)
    x = g.standard_normal((5, 8))
    out = model(Tensor(x)).sum()
    params = [torch.tensor(p.data, requires_grad=True) for p in model.parameters()]

    def torch_model(x, *params):
        h = x
        for k in range(0, len(params), 2):
            h = torch.nn.functional.linear(h, params[k], params[k + 1])
            h = torch.tanh(h) if k + 2 < len(params) else h
        return h.sum()

    _, theirs = torch_saved_bytes(torch, torch_model, [torch.tensor(x), *params])
    assert saved_bytes(out) == theirs == 5 * (5 * 8 * 8)  # each tanh keeps its (5, 8) output: 5 of them
    out.backward()
    assert saved_bytes(out) == 0  # backward freed them


def test_a_view_keeps_its_base_and_is_counted_once():
    a = Tensor(np.ones((4, 5)), requires_grad=True)
    h = a.exp()                 # saves its (4, 5) output: 160 bytes
    out = (h.T @ h).sum()       # matmul saves h.T (a view of h) and h: nothing new
    assert saved_bytes(out) == 160
    assert saved_bytes((a.T @ a).sum()) == 0  # a leaf's data is not the tape's


# ---- checkpointing ------------------------------------------------------------------------------------------------

def layer_weights(depth, width, g):
    return [(g.standard_normal((width, width)) / np.sqrt(width), g.standard_normal(width) * 0.1) for _ in range(depth)]


def framework_gradients(oracles, weights, x, up, segments):
    """d(up . out)/d(x, parameters) in PyTorch and TensorFlow for tanh layers run in ``segments``, a list of
    (start, stop): each checkpointed (``torch.utils.checkpoint``, ``tf.recompute_grad``) but the last."""
    torch, tf = oracles.torch, oracles.tf
    t_params = [torch.tensor(a, requires_grad=True) for pair in weights for a in pair]
    f_params = [tf.Variable(a) for pair in weights for a in pair]
    t_x, f_x = torch.tensor(x, requires_grad=True), tf.constant(x)

    def t_segment(start, stop):
        def run(h):
            for k in range(start, stop):
                h = torch.tanh(torch.nn.functional.linear(h, t_params[2 * k], t_params[2 * k + 1]))
            return h
        return run

    def f_segment(start, stop):
        def run(h):
            for k in range(start, stop):
                h = tf.tanh(tf.matmul(h, f_params[2 * k], transpose_b=True) + f_params[2 * k + 1])
            return h
        return run

    h = t_x
    with tf.GradientTape() as tape:
        tape.watch(f_x)
        f_h = f_x
        for k, (start, stop) in enumerate(segments):
            last = k == len(segments) - 1
            h = t_segment(start, stop)(h) if last else torch.utils.checkpoint.checkpoint(
                t_segment(start, stop), h, use_reentrant=False)
            f_h = f_segment(start, stop)(f_h) if last else tf.recompute_grad(f_segment(start, stop))(f_h)
    t_grads = torch.autograd.grad(h, [t_x, *t_params], grad_outputs=torch.tensor(up))
    f_grads = tape.gradient(f_h, [f_x, *f_params], output_gradients=tf.constant(up))
    return {"PyTorch": [t.numpy() for t in t_grads], "TensorFlow": [t.numpy() for t in f_grads]}


def test_checkpointed_gradients_equal_torch_utils_checkpoint_and_tf_recompute_grad(oracles, close):
    g = rng(3)
    weights = layer_weights(8, 6, g)
    x, up = g.standard_normal((4, 6)), g.standard_normal((4, 6))

    params = [Tensor(a, requires_grad=True) for pair in weights for a in pair]
    xt = Tensor(x, requires_grad=True)
    layers = [lambda h, k=k: am.functional.linear(h, params[2 * k], params[2 * k + 1]).tanh() for k in range(8)]
    out = am.checkpoint(lambda h: layers[1](layers[0](h)), xt)
    out = am.checkpoint_sequential(layers[2:], 3, out)
    assert [n.op for n in am.topological_order(out)].count("checkpoint") == 3  # the last segment is not checkpointed
    out.backward(up)
    mine = [xt.grad] + [p.grad for p in params]
    theirs = framework_gradients(oracles, weights, x, up, [(0, 2), (2, 4), (4, 6), (6, 8)])
    for label, grads in theirs.items():
        for k, (a, b) in enumerate(zip(mine, grads)):
            close(a, b, f"{label}, gradient {k}")


def test_checkpointing_a_deep_mlp_keeps_only_the_segment_inputs_and_the_last_segment():
    """32 linear layers with ReLU between (63 layers), in 8 segments of 8 (the last of 7), the last not checkpointed.
    The plain tape keeps the 31 ReLU outputs (each also the next Linear's input: one buffer); the checkpointed one
    keeps the inputs of segments 2-7 (segment 1's is the input x, a leaf), the last segment's input and its 3 ReLU
    outputs: 10 activations. Cross-entropy keeps the same either way."""
    g = rng(4)
    model = nn.MLP([32] * 33, rng=g)
    x, labels = Tensor(g.standard_normal((16, 32))), g.integers(0, 32, 16)
    plain = am.losses.cross_entropy(model(x), labels)
    kept = am.losses.cross_entropy(am.checkpoint_sequential(model.layers, 8, x), labels)
    activation = x.data.nbytes
    assert saved_bytes(plain) - saved_bytes(kept) == (31 - 10) * activation
    np.testing.assert_array_equal(plain.data, kept.data)


@pytest.mark.parametrize("lengths", ["equal", "decreasing"])
def test_checkpoint_sequential_cuts_where_segment_bounds_says_with_gradients_of_pytorch_and_tensorflow(
        oracles, close, lengths):
    """10 tanh layers in 4 segments (equal: 2, 3, 3, 2 layers; decreasing: 4, 3, 2, 1); PyTorch and TensorFlow
    checkpoint the same segments, the last not checkpointed."""
    g = rng(12)
    weights = layer_weights(10, 5, g)
    x, up = g.standard_normal((3, 5)), g.standard_normal((3, 5))
    starts, stops = segment_bounds(10, 4, lengths)
    assert [b - a for a, b in zip(starts, stops)] == {"equal": [2, 3, 3, 2], "decreasing": [4, 3, 2, 1]}[lengths]

    params = [Tensor(a, requires_grad=True) for pair in weights for a in pair]
    xt = Tensor(x, requires_grad=True)
    layers = [lambda h, k=k: am.functional.linear(h, params[2 * k], params[2 * k + 1]).tanh() for k in range(10)]
    out = am.checkpoint_sequential(layers, 4, xt, lengths)
    assert [n.op for n in am.topological_order(out)].count("checkpoint") == 3
    out.backward(up)
    mine = [xt.grad] + [p.grad for p in params]
    for label, grads in framework_gradients(oracles, weights, x, up, list(zip(starts, stops))).items():
        for k, (a, b) in enumerate(zip(mine, grads)):
            close(a, b, f"{label}, {lengths} segments, gradient {k}")


def test_decreasing_segments_keep_less_after_the_forward_pass_and_at_the_peak_of_backward():
    """The 63 layers of a 32-layer ReLU MLP in 7 segments of decreasing length (16, 13, 11, 10, 6, 5, 2 layers).
    After the forward pass the tape keeps the inputs of segments 2-6 (segment 1's is x, a leaf; segment 7's, a
    Linear's output, no op saves: ReLU saves its output), the last segment's one ReLU output and cross-entropy's
    probabilities: 7 activations. Backward runs segment 1 again last, when everything else is free: its 8 ReLU
    outputs are the peak. In 8 equal segments both are 11 (10 activations and the probabilities); plain, 32."""
    g = rng(13)
    model = nn.MLP([32] * 33, rng=g)
    x, labels = Tensor(g.standard_normal((16, 32))), g.integers(0, 32, 16)
    activation, label_bytes = x.data.nbytes, labels.nbytes
    found = {}
    for segments, lengths in ((None, None), (8, "equal"), (7, "decreasing")):
        with am.memory.tape_peak(x, *model.parameters()) as peak:
            out = am.checkpoint_sequential(model.layers, segments, x, lengths) if segments else model(x)
            loss = am.losses.cross_entropy(out, labels)
            kept = saved_bytes(loss)
            loss.backward()
        found[lengths] = (kept, peak.bytes, loss.data, [p.grad for p in model.parameters()])
        model.zero_grad()
    assert found[None][:2] == (32 * activation + label_bytes,) * 2  # plain: the peak is right after the forward
    assert found["equal"][:2] == (11 * activation + label_bytes,) * 2
    assert found["decreasing"][:2] == (7 * activation + label_bytes, 8 * activation)
    for lengths in ("equal", "decreasing"):
        np.testing.assert_array_equal(found[lengths][2], found[None][2])
        for mine, plain in zip(found[lengths][3], found[None][3]):
            np.testing.assert_array_equal(mine, plain)


def test_segment_bounds_give_every_segment_a_layer_and_refuse_unknown_lengths():
    for layers in range(1, 12):
        for segments in range(1, layers + 1):
            for lengths in ("equal", "decreasing"):
                starts, stops = segment_bounds(layers, segments, lengths)
                assert starts[0] == 0 and stops[-1] == layers and starts[1:] == stops[:-1]
                assert all(stop > start for start, stop in zip(starts, stops)), (layers, segments, lengths)
    with pytest.raises(ValueError, match="lengths must be 'equal' or 'decreasing', got 'random'"):
        am.checkpoint_sequential([nn.ReLU()], 1, Tensor(np.ones(2)), "random")


def test_tape_peak_counts_only_what_graphs_keep_and_refuses_to_nest():
    w = Tensor(rng(14).standard_normal((4, 4)), requires_grad=True)
    x = Tensor(rng(15).standard_normal((3, 4)))
    with am.memory.tape_peak(w, x) as peak:
        with am.no_grad():
            (x @ w).relu()  # no graph: nothing kept
        constant = (x * 2).relu()  # needs no gradient: not part of any graph
        assert peak.bytes == 0
        loss = (x @ w).relu().sum()
        assert peak.bytes == saved_bytes(loss) == x.data.nbytes  # the relu's output; x and w are leaves
        loss.backward()
        assert peak.kept() == 0 and constant.shape == (3, 4)
        with pytest.raises(RuntimeError, match="cannot be nested"):
            with am.memory.tape_peak():
                pass


def test_checkpoint_of_an_input_needing_no_gradient_still_reaches_the_parameters():
    layer = nn.Linear(3, 2, rng=rng(5))
    out = am.checkpoint(layer, Tensor(np.ones((4, 3))))
    assert out.requires_grad and set(map(id, out.parents[1:])) == set(map(id, layer.parameters()))
    out.sum().backward()
    np.testing.assert_array_equal(layer.bias.grad, [4.0, 4.0])
    np.testing.assert_array_equal(layer.weight.grad, np.full((2, 3), 4.0))


def test_checkpoint_without_grad_mode_is_the_plain_call():
    layer = nn.Linear(3, 2, rng=rng(6))
    with am.no_grad():
        out = am.checkpoint(layer, Tensor(np.ones((1, 3))))
    assert not out.requires_grad and out.op is None


# ---- trace and replay ---------------------------------------------------------------------------------------------

def training_pair(sizes, dtype=np.float64, momentum=0.9):
    """Two identical models and optimizers: one to trace, one to run eagerly."""
    model = nn.MLP(sizes, rng=rng(7), dtype=dtype)
    twin = copy.deepcopy(model)
    return (model, optim.SGD(model.parameters(), lr=0.05, momentum=momentum)), \
           (twin, optim.SGD(twin.parameters(), lr=0.05, momentum=momentum))


def step_of(model, optimizer):
    def step(x, y):
        optimizer.zero_grad()
        loss = am.losses.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        return loss
    return step


def test_replay_equals_eager_step_after_step_and_builds_no_graph():
    (model, opt), (twin, twin_opt) = training_pair([6, 8, 8, 3])
    traced, eager = am.trace(step_of(model, opt)), step_of(twin, twin_opt)
    g = rng(8)
    for _ in range(6):
        x, y = g.standard_normal((5, 6)), g.integers(0, 3, 5)
        replayed, reference = traced(x, y), eager(Tensor(x), y)
        np.testing.assert_allclose(replayed.data, reference.data, rtol=1e-12, atol=0)
        for p, q in zip(model.parameters(), twin.parameters()):
            np.testing.assert_allclose(p.data, q.data, rtol=1e-12, atol=1e-15)
            np.testing.assert_allclose(p.grad, q.grad, rtol=1e-12, atol=1e-15)
    assert traced.traces == 1
    first = traced(x, y)
    assert traced(x, y) is first  # a replay returns the traced step's loss tensor, refreshed: no new graph


def test_a_replayed_retain_grad_holds_this_steps_gradient_as_eagerly():
    (model, opt), (twin, twin_opt) = training_pair([4, 5, 2], momentum=0.0)

    def step(model, optimizer):
        def run(x, y):
            optimizer.zero_grad()
            logits = model(x)
            logits.retain_grad()
            loss = am.losses.cross_entropy(logits, y)
            loss.backward()
            optimizer.step()
            return loss, logits
        return run

    traced, eager = am.trace(step(model, opt)), step(twin, twin_opt)
    g = rng(11)
    for _ in range(3):
        x, y = g.standard_normal((3, 4)), g.integers(0, 2, 3)
        (_, replayed), (_, reference) = traced(x, y), eager(Tensor(x), y)
        np.testing.assert_allclose(replayed.grad, reference.grad, rtol=1e-12, atol=1e-15)  # not summed over steps


def test_new_shapes_or_dtypes_are_traced_again_and_old_ones_replayed():
    (model, opt), _ = training_pair([4, 5, 2], momentum=0.0)
    traced = am.trace(step_of(model, opt))
    g = rng(9)
    traced(g.standard_normal((3, 4)), g.integers(0, 2, 3))
    traced(g.standard_normal((3, 4)), g.integers(0, 2, 3))
    assert traced.traces == 1
    traced(g.standard_normal((7, 4)), g.integers(0, 2, 7))
    assert traced.traces == 2
    traced(g.standard_normal((3, 4)), g.integers(0, 2, 3).astype(np.int32))
    assert traced.traces == 3
    traced(g.standard_normal((7, 4)), g.integers(0, 2, 7))
    assert traced.traces == 3


def test_replay_runs_checkpointed_segments_too():
    (model, opt), (twin, twin_opt) = training_pair([5, 6, 6, 6, 2], momentum=0.0)

    def step(model, optimizer):
        def run(x, y):
            optimizer.zero_grad()
            loss = am.losses.cross_entropy(am.checkpoint_sequential(model.layers, 2, x), y)
            loss.backward()
            optimizer.step()
            return loss
        return run

    traced, eager = am.trace(step(model, opt)), step(twin, twin_opt)
    g = rng(10)
    for _ in range(3):
        x, y = g.standard_normal((4, 5)), g.integers(0, 2, 4)
        np.testing.assert_allclose(traced(x, y).data, eager(Tensor(x), y).data, rtol=1e-12)
    for p, q in zip(model.parameters(), twin.parameters()):
        np.testing.assert_allclose(p.data, q.data, rtol=1e-12, atol=1e-15)


def test_a_traced_step_returning_a_python_number_is_refused():
    (model, opt), _ = training_pair([3, 2], momentum=0.0)
    traced = am.trace(lambda x, y: step_of(model, opt)(x, y).item())
    with pytest.raises(TypeError, match="frozen at what the first call computed"):
        traced(np.ones((2, 3)), np.array([0, 1]))
