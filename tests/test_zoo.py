"""The standard networks of zcjax.zoo: He et al.'s CIFAR ResNets."""

import jax
import jax.numpy as jnp
import pytest

import zcjax
from zcjax.zoo import RESNET_PARAMS_M, CifarResNet


@pytest.mark.parametrize("depth", [d if d < 1000 else pytest.param(d, marks=pytest.mark.slow)  # 1202: ~30 s
                                   for d in sorted(RESNET_PARAMS_M)])
def test_resnet_params_are_the_papers(depth):
    model = CifarResNet(depth)
    shapes = jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.zeros((1, 32, 32, 3))))
    counts = zcjax.score_model(model, shapes, None, "params,flops", input_shape=(32, 32, 3))
    # He et al. 2016, Table 6, rounded to 2 significant digits (0.27M ... 19.4M)
    assert round(counts["params"] / 1e6, 2 if depth < 100 else 1) == RESNET_PARAMS_M[depth]
    convs = sum(1 for path, _ in jax.tree_util.tree_flatten_with_path(shapes["params"])[0]
                if path[-1].key == "kernel")
    assert convs == depth  # depth counts the weighted layers: 6 n + 1 convs and the dense layer
    # option A: the shortcuts hold no parameters, or the counts above would not be the paper's


def test_bad_depth_is_one_line():
    with pytest.raises(ValueError, match="depth is 6 n \\+ 2.*got 21"):
        CifarResNet(21).init(jax.random.key(0), jnp.zeros((1, 32, 32, 3)))
