#!/usr/bin/python3
"""ONNX graphs for the ONNX Runtime peer of bench/peers.sh, from the PyTorch reference model (scripts/reference):

  <out>/fp32.onnx   torch.onnx.export of the model (opset 17: LayerNormalization is one node), batch dimension
                    dynamic
  <out>/int8.onnx   the same graph with every MatMul by a constant weight made dynamic int8, as ONNX Runtime's own
                    quantize_dynamic writes it (its Python quantizer is not installable here, so the graph is edited
                    with Debian's python3-onnx):
                      x -> DynamicQuantizeLinear -> (x_q uint8, x_scale, x_zero_point)
                      MatMulInteger(x_q, w_q int8, x_zero_point, 0) -> Cast(float) -> Mul(x_scale * w_scale[col])
                    w_q = round(w / w_scale) per output column, w_scale = max|w| / 127 (symmetric). ONNX Runtime
                    fuses the chain into its DynamicQuantizeMatMul kernel.

Prints one JSON line: {"fp32": path, "int8": path, "matmuls_quantized": n, "matmuls_kept_float": m}.
"""
import argparse
import json
import os
import sys

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper, TensorProto

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
from reference import checkpoint  # noqa: E402

kOpset = 17


def export_fp32(model_dir, path):
    model, config = checkpoint.load_checkpoint(model_dir)
    size = config.get("model_args", {}).get("img_size") or config.get("pretrained_cfg", {}).get(
        "input_size", [3, 224, 224])[1]
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.onnx.export(model, (x,), path, input_names=["images"], output_names=["logits"], opset_version=kOpset,
                          dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}}, do_constant_folding=True)
    return size


def quantize_matmuls(src, dst):
    graph_model = onnx.load(src)
    graph = graph_model.graph
    inits = {t.name: t for t in graph.initializer}
    nodes, quantized, kept = [], 0, 0
    drop = set()
    for node in graph.node:
        weight = inits.get(node.input[1]) if node.op_type == "MatMul" and len(node.input) == 2 else None
        w = numpy_helper.to_array(weight) if weight is not None else None
        if w is None or w.ndim != 2 or w.dtype != np.float32:
            kept += node.op_type == "MatMul"
            nodes.append(node)
            continue
        x, y, p = node.input[0], node.output[0], node.name or f"matmul_{quantized}"
        w_scale = np.maximum(np.abs(w).max(axis=0), 1e-12).astype(np.float32) / np.float32(127)  # [cols]
        w_q = np.clip(np.rint(w / w_scale), -127, 127).astype(np.int8)
        drop.add(weight.name)
        graph.initializer.extend([numpy_helper.from_array(w_q, p + "_w_q"),
                                  numpy_helper.from_array(w_scale, p + "_w_scale"),
                                  numpy_helper.from_array(np.zeros(w.shape[1], np.int8), p + "_w_zero_point")])
        nodes += [
            helper.make_node("DynamicQuantizeLinear", [x], [p + "_x_q", p + "_x_scale", p + "_x_zero_point"],
                             name=p + "_quant"),
            helper.make_node("MatMulInteger", [p + "_x_q", p + "_w_q", p + "_x_zero_point", p + "_w_zero_point"],
                             [p + "_acc"], name=p + "_matmul_integer"),
            helper.make_node("Cast", [p + "_acc"], [p + "_acc_float"], to=TensorProto.FLOAT, name=p + "_cast"),
            helper.make_node("Mul", [p + "_x_scale", p + "_w_scale"], [p + "_scale"], name=p + "_scale_mul"),
            helper.make_node("Mul", [p + "_acc_float", p + "_scale"], [y], name=p + "_dequant"),
        ]
        quantized += 1
    still_used = {i for n in nodes for i in n.input}
    keep_inits = [t for t in graph.initializer if t.name not in drop or t.name in still_used]
    del graph.initializer[:]
    graph.initializer.extend(keep_inits)
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.checker.check_model(graph_model)
    onnx.save(graph_model, dst)
    return quantized, kept


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="checkpoint directory (model.safetensors + config.json)")
    parser.add_argument("--out", required=True, help="directory for fp32.onnx and int8.onnx")
    args = parser.parse_args()
    torch.set_num_threads(2)
    os.makedirs(args.out, exist_ok=True)
    fp32, int8 = os.path.join(args.out, "fp32.onnx"), os.path.join(args.out, "int8.onnx")
    # Written under temporary names and renamed, so an interrupted run leaves no half graph to be reused.
    size = export_fp32(args.model, fp32 + ".tmp")
    quantized, kept = quantize_matmuls(fp32 + ".tmp", int8 + ".tmp")
    os.replace(fp32 + ".tmp", fp32)
    os.replace(int8 + ".tmp", int8)
    print(json.dumps({"fp32": fp32, "int8": int8, "img_size": size, "matmuls_quantized": quantized,
                      "matmuls_kept_float": kept}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
