"""NB201Network(variant='naslib'): NASLib's (xautodl's) NAS-Bench-201 network, and its synflow without BatchNorm."""

import json

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import zcjax
from zcjax.scoring import float32_stage, float64_stage
from zcjax.spaces.nb201 import NB201Network, arch_to_ops, index_of

SMALL = dict(channels=4, cells_per_stage=1)
ARCH = "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|"


def _init(model, x, ops=None):
    return model.init(jax.random.key(3), x[:1], *(() if ops is None else (ops,)))["params"]


def _as_naslib(reference_params):
    """The reference network's parameters as NASLib's: the cell convs' bias dropped, their BatchNorm's gamma 1, beta 0."""
    def convert(tree, path=()):
        if "kernel" in tree and path[-1].startswith("edge"):
            c = tree["kernel"].shape[-1]
            return {"kernel": tree["kernel"], "bn_scale": jnp.ones(c), "bn_bias": jnp.zeros(c)}
        return {k: convert(v, path + (k,)) if isinstance(v, dict) else v for k, v in tree.items()}
    return convert(reference_params)


def test_parameters_are_xautodl_s_and_the_count_is_naslib_s():
    ops = tuple(arch_to_ops(ARCH))
    params = _init(NB201Network(arch=ops, variant="naslib"), jnp.ones((1, 32, 32, 3)))
    edge = params["cell1_0"]["edge0_nor_conv_3x3"]
    assert set(edge) == {"kernel", "bn_scale", "bn_bias"}
    chex.assert_trees_all_equal((edge["bn_scale"], edge["bn_bias"]), (jnp.ones(16), jnp.zeros(16)))
    # NASLib's network for this cell (CIFAR-10 head) has 587,386 parameters, as xautodl's TinyNetwork(16, 5).
    assert sum(a.size for a in jax.tree.leaves(params)) == 587_386
    reference = _init(NB201Network(arch=ops), jnp.ones((1, 32, 32, 3)))
    # The reference's cell convs have a bias (C) where NASLib's BatchNorm has gamma and beta (2C): +C per conv op.
    assert sum(a.size for a in jax.tree.leaves(params)) - sum(a.size for a in jax.tree.leaves(reference)) == (
        5 * 3 * (16 + 32 + 64))


@pytest.mark.slow  # 33 s: the fast suite's budget; run by .ci/run
def test_train_mode_proxies_equal_the_reference_network_s_but_fisher_and_synflow_do_not():
    """With batch statistics a conv bias before BatchNorm cancels: the same kernels give the same saliencies."""
    ops = tuple(arch_to_ops(ARCH))
    x = jax.random.normal(jax.random.key(0), (8, 32, 32, 3))
    y = jnp.arange(8) % 10
    reference = NB201Network(arch=ops, **SMALL)
    naslib = reference.clone(variant="naslib")
    params = _init(reference, x)
    names = ["grad_norm", "snip", "grasp", "fisher", "jacob_cov", "plain", "nwot", "params"]
    ours = float32_stage(naslib, names, _as_naslib(params), None, x, y)
    theirs = float32_stage(reference, names, params, None, x, y)
    for name in ("grad_norm", "snip", "grasp", "plain"):
        np.testing.assert_allclose(ours[name], theirs[name], rtol=2e-4, err_msg=name)
    # fisher reads each conv's output z: the reference's includes the bias, and per image sum(dL/dz) is not 0.
    assert abs(float(ours["fisher"]) / float(theirs["fisher"]) - 1) > 1e-4
    chex.assert_trees_all_close(ours["handoff"]["jacobian"], theirs["handoff"]["jacobian"], rtol=1e-4, atol=1e-6)
    chex.assert_trees_all_close(ours["handoff"]["nwot_kernel"], theirs["handoff"]["nwot_kernel"])
    # + C per conv op (gamma and beta for the bias), 3 conv ops in each of 3 cells with 4, 8, 16 channels.
    assert float(ours["params"]) - float(theirs["params"]) == 3 * (4 + 8 + 16)
    with jax.enable_x64(True):
        s_ours = float64_stage(naslib, ["synflow"], _as_naslib(params), None, 32)["synflow"]
        s_theirs = float64_stage(reference, ["synflow"], params, None, 32)["synflow"]
    assert abs(float(s_ours) / float(s_theirs) - 1) > 1e-3


def test_synflow_network_has_no_batchnorm_so_it_is_homogeneous_in_its_input():
    """No BatchNorm and no bias before the classifier: R(c x) - b = c (R(x) - b) for c > 0; not so for the reference's."""
    ops = tuple(arch_to_ops(ARCH))
    # The reference's cell biases zeroed, so that only its reductions' BatchNorm can break the homogeneity.
    for variant, homogeneous in (("naslib", True), ("reference", False)):
        net = NB201Network(arch=ops, variant=variant, bias_init="zero", **SMALL).synflow_variant()
        params = jax.tree.map(jnp.abs, _init(net, jnp.ones((1, 32, 32, 3))))
        params["classifier"]["bias"] = jnp.full_like(params["classifier"]["bias"], 0.5)
        bias = params["classifier"]["bias"]

        def out(c, net=net, params=params, bias=bias):
            return net.apply({"params": params}, c * jnp.ones((2, 32, 32, 3)))[0] - bias

        if homogeneous:
            np.testing.assert_allclose(out(3.0), 3.0 * out(1.0), rtol=1e-5)
        else:
            assert not np.allclose(out(3.0), 3.0 * out(1.0), rtol=1e-3)


@pytest.mark.slow  # the fast suite's budget; run by .ci/run
def test_arch_as_data_network_scores_as_the_static_one():
    ops = tuple(arch_to_ops(ARCH))
    x = jax.random.normal(jax.random.key(1), (8, 32, 32, 3))
    y = jnp.arange(8) % 10
    static = NB201Network(arch=ops, variant="naslib", **SMALL)
    mixed = NB201Network(arch=None, variant="naslib", **SMALL)
    o = jnp.asarray(ops, jnp.int32)
    params = _init(mixed, x, o)
    names = ["snip", "fisher", "params", "flops", "l2_norm"]
    dense = float32_stage(mixed, names, params, o, x, y)
    kept = {k: v for k, v in params.items()}
    for cell in [k for k in params if k.startswith("cell")]:
        kept[cell] = {k: v for k, v in params[cell].items()
                      if k in ("edge0_nor_conv_3x3", "edge1_nor_conv_1x1", "edge5_nor_conv_3x3")}
    alone = float32_stage(static, names, kept, None, x, y)
    for name in names:
        np.testing.assert_allclose(dense[name], alone[name], rtol=1e-4, err_msg=name)
    with jax.enable_x64(True):
        np.testing.assert_allclose(float64_stage(mixed, ["synflow"], params, o, 32)["synflow"],
                                   float64_stage(static, ["synflow"], kept, None, 32)["synflow"], rtol=1e-9)


def test_the_cli_records_the_variant_and_refuses_an_unknown_one(tmp_path, capsys):
    from zcjax.score import main

    def run(name, *options, resume=False):
        argv = ["--arch", ARCH, "--proxies", "synflow,params", "--option", "channels=4", "--option",
                "cells_per_stage=1", *(a for o in options for a in ("--option", o)), "--output", str(tmp_path / name),
                "--no-progress"]
        return main(argv + (["--resume"] if resume else []))

    assert run("n.jsonl", "variant=naslib") == 0 and run("r.jsonl") == 0
    naslib, reference = (json.loads((tmp_path / f).read_text()) for f in ("n.jsonl", "r.jsonl"))
    settings = {f: json.loads((tmp_path / f"{f}.settings.json").read_text())["settings"] for f in ("n.jsonl", "r.jsonl")}
    assert settings["n.jsonl"]["network"] == {"channels": 4, "cells_per_stage": 1, "variant": "naslib"}
    assert settings["r.jsonl"]["network"] == {"channels": 4, "cells_per_stage": 1}  # as files written before it
    assert naslib["index"] == index_of(ARCH)
    assert naslib["params"] - reference["params"] == 3 * (4 + 8 + 16) and naslib["synflow"] != reference["synflow"]
    capsys.readouterr()
    assert run("n.jsonl", resume=True) == 2  # the NASLib file is not resumed as the reference network's
    assert "variant" in capsys.readouterr().err
    assert run("x.jsonl", "variant=nasnet") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "variant 'nasnet'" in err[0], err


def test_scorer_rejects_an_unknown_variant():
    with pytest.raises(ValueError, match="unknown NAS-Bench-201 network variant 'xautodl'"):
        zcjax.ScoreConfig(proxies="params", variant="xautodl")


@pytest.mark.slow  # the fast suite's budget; run by .ci/run
def test_te_ntk_differentiates_the_cell_batchnorm_scales_too():
    from zcjax.scoring import ntk_of

    ops = tuple(arch_to_ops(ARCH))
    x = jax.random.normal(jax.random.key(2), (4, 32, 32, 3))
    reference = NB201Network(arch=ops, **SMALL)
    naslib = reference.clone(variant="naslib")
    params = _as_naslib(_init(reference, x))
    ours = ntk_of(naslib, params, None, x)

    def summed(scales):  # the cell BatchNorms' scales alone
        p = jax.tree.map(lambda a: a, params)
        for (cell, edge), s in scales.items():
            p[cell][edge]["bn_scale"] = s
        return naslib.apply({"params": p}, x).sum(axis=1)

    scales = {(c, e): v["bn_scale"] for c, layers in params.items() if c.startswith("cell")
              for e, v in layers.items() if "bn_scale" in v}
    rows = jnp.concatenate([j.reshape(4, -1) for j in jax.tree.leaves(jax.jacrev(summed)(scales))], axis=1)
    assert float(jnp.abs(rows).max()) > 0
    without = ntk_of(reference, _init(reference, x), None, x)  # the same function without those parameters
    np.testing.assert_allclose(ours, without + rows @ rows.T, rtol=2e-4)


def test_weights_of_the_other_layout_are_refused():
    from zcjax.spaces.nb201 import to_mixed_params
    from zcjax.spaces.nb201.torch_weights import params_from_torch, torch_state_from_params

    ops = tuple(arch_to_ops(ARCH))
    x = jnp.ones((1, 32, 32, 3))
    naslib = NB201Network(arch=ops, variant="naslib", **SMALL)
    params = _init(naslib, x)
    with pytest.raises(ValueError, match="bn_bias is not in the arch-as-data network"):
        to_mixed_params(params, **SMALL)
    mixed = to_mixed_params(params, variant="naslib", **SMALL)
    assert set(mixed["cell1_0"]["edge2_nor_conv_3x3"]) == {"kernel", "bn_scale", "bn_bias"}
    with pytest.raises(ValueError, match="no parameter 'bn_(scale|bias)'"):
        torch_state_from_params(params)
    with pytest.raises(ValueError, match="not the naslib variant"):
        params_from_torch({}, naslib)


def test_vkdnw_is_nan_unless_every_batchnorm_is_at_its_initial_gamma_and_beta():
    from zcjax.scoring import batchnorm_at_init

    ops = tuple(arch_to_ops(ARCH))
    x = jax.random.normal(jax.random.key(4), (4, 32, 32, 3))
    naslib = NB201Network(arch=ops, variant="naslib", **SMALL)
    params = _init(naslib, x)
    assert bool(batchnorm_at_init(params))
    fresh = float32_stage(naslib, ["vkdnw_entropy"], params, None, x, jnp.zeros(4, jnp.int32))["vkdnw_entropy"]
    assert np.isfinite(fresh)
    for cell, layer, leaf in (("cell1_0", "edge0_nor_conv_3x3", "bn_scale"), ("stem_bn", None, "bias")):
        moved = jax.tree.map(lambda a: a, params)
        target = moved[cell] if layer is None else moved[cell][layer]
        target[leaf] = target[leaf] + 0.5
        assert not bool(batchnorm_at_init(moved))
        out = float32_stage(naslib, ["vkdnw_entropy"], moved, None, x, jnp.zeros(4, jnp.int32))["vkdnw_entropy"]
        assert np.isnan(out), (cell, leaf)


@pytest.mark.slow  # the fast suite's budget; run by .ci/run
def test_the_space_plug_in_scores_naslib_s_synflow_as_the_engine():
    """Through the model contract (zcjax.score_model), variant='naslib' drops every BatchNorm for synflow."""
    import zcjax.spaces as spaces

    space = spaces.get("nb201")
    for variant in ("naslib", "reference"):
        net = space.network(ARCH, variant=variant, **SMALL)
        variables = net.module.init(jax.random.key(5), jnp.ones((1, 32, 32, 3)))
        ours = net.score(variables, None, "synflow")["synflow"]
        with jax.enable_x64(True):
            engine = float(float64_stage(net.module, ["synflow"], variables["params"], None, 32)["synflow"])
        assert ours == pytest.approx(engine, rel=1e-9), variant
