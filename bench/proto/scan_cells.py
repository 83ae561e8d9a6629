"""Stand-in measurement: a stage's cells unrolled against under ``lax.scan`` (bench/NOTES.md, session 24).

A pure-JAX NAS-Bench-201-like network (stem, 3 stages of 5 cells of one arch,
stride-2 convolutions between stages, batch-statistic BatchNorm, global pool,
dense head; C=16, batch 64, 32x32 inputs), and one jitted program with what
grasp needs: the loss's gradient and its forward-over-reverse Hessian-vector
product. Prints the compile time and two run times:

    python bench/proto/scan_cells.py unroll   # the cells as a Python loop (today's per-cell program)
    python bench/proto/scan_cells.py scan     # each stage's cells under lax.scan, weights stacked
    python bench/proto/scan_cells.py switch   # scan, and each edge's op as data through lax.switch

Not the library's network (no bias, taps or perturbations): a measurement of
XLA:CPU's handling of the two program shapes, nothing more.
"""

from __future__ import annotations

import sys
import time

import jax
import jax.numpy as jnp
from jax import lax

EDGES = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
NONE, POOL, CONV3, CONV1, SKIP = range(5)
ARCH = (CONV3, CONV3, CONV3, SKIP, CONV3, CONV3)
CHANNELS, CELLS = 16, 5


def conv(x, k, stride=1):
    return lax.conv_general_dilated(x, k, (stride, stride), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))


def batch_norm(z):
    return (z - z.mean((0, 1, 2))) / jnp.sqrt(z.var((0, 1, 2)) + 1e-5)


def pool(x):
    return lax.reduce_window(x, 0.0, lax.add, (1, 3, 3, 1), (1, 1, 1, 1), "SAME") / 9.0


def relu_conv_bn(x, k):
    return batch_norm(conv(jax.nn.relu(x), k))


def edge(mode, x, k, op):
    if mode == "switch":
        return lax.switch(op, (lambda x, k: jnp.zeros_like(x), lambda x, k: pool(x), relu_conv_bn, relu_conv_bn,
                               lambda x, k: x), x, k)
    return x if op == SKIP else relu_conv_bn(x, k)


def cell(mode, x, kernels, ops):
    nodes = [x]
    for to in (1, 2, 3):
        total = jnp.zeros_like(x)
        for e, (dst, src) in enumerate(EDGES):
            if dst == to:
                total = total + edge(mode, nodes[src], kernels[e], ops[e])
        nodes.append(total)
    return nodes[3]


def network(mode, params, x, ops):
    y = batch_norm(conv(x, params["stem"]))
    for stage in range(3):
        if stage:
            y = batch_norm(conv(y, params[f"reduction{stage}"], stride=2))
        stacked = params[f"cells{stage}"]  # 6 edges, each (CELLS, 3, 3, c, c)
        if mode == "unroll":
            for i in range(CELLS):
                y = cell(mode, y, [k[i] for k in stacked], ops)
        else:
            y, _ = lax.scan(lambda y, ks: (cell(mode, y, ks, ops), None), y, stacked)
    return jax.nn.relu(y).mean((1, 2)) @ params["head"]


def main(mode: str) -> None:
    def loss(params, x, labels, ops):
        return -jnp.mean(jnp.sum(jax.nn.log_softmax(network(mode, params, x, ops)) * labels, -1))

    def passes(params, x, labels, ops):
        grad = jax.grad(loss)(params, x, labels, ops)
        hvp = jax.jvp(lambda q: jax.grad(loss)(q, x, labels, ops), (params,), (grad,))[1]
        return jax.tree.map(lambda w, g, h: (jnp.abs(w * g).sum(), (w * h).sum()), params, grad, hvp)

    key = jax.random.PRNGKey(0)
    params = {"stem": 0.1 * jax.random.normal(key, (3, 3, 3, CHANNELS)), "head": jnp.zeros((4 * CHANNELS, 10))}
    for stage in range(3):
        c = CHANNELS * 2**stage
        if stage:
            params[f"reduction{stage}"] = 0.1 * jax.random.normal(key, (3, 3, c // 2, c))
        params[f"cells{stage}"] = [0.1 * jax.random.normal(key, (CELLS, 3, 3, c, c)) for _ in EDGES]
    x = jax.random.normal(key, (64, 32, 32, 3))
    labels = jax.nn.one_hot(jnp.arange(64) % 10, 10)
    if mode == "switch":
        program, args = jax.jit(passes), (params, x, labels, jnp.array(ARCH))
    else:
        program, args = jax.jit(lambda p, x, y: passes(p, x, y, ARCH)), (params, x, labels)
    start = time.perf_counter()
    compiled = program.lower(*args).compile()
    compile_s = time.perf_counter() - start
    runs = []
    for _ in range(2):
        start = time.perf_counter()
        jax.block_until_ready(compiled(*args))
        runs.append(time.perf_counter() - start)
    print(f"{mode}: compile {compile_s:.1f} s, run {runs[0]:.2f} s, {runs[1]:.2f} s")


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in ("unroll", "scan", "switch"):
        sys.exit("usage: python bench/proto/scan_cells.py unroll|scan|switch")
    main(sys.argv[1])
