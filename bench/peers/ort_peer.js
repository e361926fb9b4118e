#!/usr/bin/env node
// ONNX Runtime peer of bench/peers.sh (npm onnxruntime-node, CPU execution provider): images/s of one graph on
// random input, and optionally its top-1 agreement with another graph on real images. One JSON line per figure:
//
//   {"peer": "onnxruntime", "mode": "fp32", "batch": 8, "images_per_second": ..., "latency_ms": ..., "setting": ...}
//   {"check": "top1", "images": 300, "agree": 297, "top1_a": ..., "top1_b": ...}
//
//   node ort_peer.js bench --graph fp32.onnx --mode fp32 --batch 1 8 --threads 2 --seconds 3 [--spinning 0|1]
//   node ort_peer.js check --graph fp32.onnx --against int8.onnx --images inputs.f32 --labels labels.json
//
// onnxruntime-node is found through NODE_PATH (bench/peers.sh installs it into a scratch folder with npm ci).
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

const kWarmupPasses = 2;
const kWarmupSeconds = 0.5;
const kMinPasses = 5;

function parseArgs(argv) {
  const args = {command: argv[0], batch: [], threads: 2, seconds: 3, spinning: '1', imgSize: 224};
  for (let i = 1; i < argv.length; ++i) {
    const key = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`ort_peer.js: ${key} needs a value`);
      return argv[++i];
    };
    if (key === '--graph') args.graph = value();
    else if (key === '--against') args.against = value();
    else if (key === '--mode') args.mode = value();
    else if (key === '--threads') args.threads = Number(value());
    else if (key === '--seconds') args.seconds = Number(value());
    else if (key === '--spinning') args.spinning = value();
    else if (key === '--img-size') args.imgSize = Number(value());
    else if (key === '--images') args.images = value();
    else if (key === '--labels') args.labels = value();
    else if (key === '--batch') {
      while (i + 1 < argv.length && !argv[i + 1].startsWith('--')) args.batch.push(Number(argv[++i]));
    } else throw new Error(`ort_peer.js: unknown argument ${key}`);
  }
  if (args.batch.length === 0) args.batch = [1, 8];
  return args;
}

function sessionOptions(args) {
  // The best CPU setting: all graph optimizations (LayerNorm / GELU / attention / DynamicQuantizeMatMul fusions),
  // one inference at a time on `threads` intra-op threads; spinning is the caller's to choose (it helps idle,
  // hurts a shared machine).
  return {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: args.threads,
    interOpNumThreads: 1,
    extra: {session: {intra_op: {allow_spinning: args.spinning}, inter_op: {allow_spinning: args.spinning}}},
  };
}

function randomImages(batch, size) {
  // Normal(0, 1) by Box-Muller from a fixed LCG seed: speed does not depend on the values.
  const data = new Float32Array(batch * 3 * size * size);
  let state = 12345;
  const uniform = () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return (state + 1) / 4294967297;
  };
  for (let i = 0; i < data.length; ++i) {
    data[i] = Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  }
  return new ort.Tensor('float32', data, [batch, 3, size, size]);
}

async function bench(args) {
  const session = await ort.InferenceSession.create(args.graph, sessionOptions(args));
  const input = session.inputNames[0];
  for (const batch of args.batch) {
    const feeds = {[input]: randomImages(batch, args.imgSize)};
    const warmupStart = process.hrtime.bigint();
    const seconds = (t0) => Number(process.hrtime.bigint() - t0) / 1e9;
    for (let i = 0; i < kWarmupPasses || seconds(warmupStart) < kWarmupSeconds; ++i) await session.run(feeds);
    const ms = [];
    const start = process.hrtime.bigint();
    while (ms.length < kMinPasses || seconds(start) < args.seconds) {
      const t0 = process.hrtime.bigint();
      await session.run(feeds);
      ms.push(seconds(t0) * 1000);
    }
    ms.sort((a, b) => a - b);
    const mid = ms.length >> 1;
    const median = ms.length % 2 ? ms[mid] : 0.5 * (ms[mid - 1] + ms[mid]);
    console.log(JSON.stringify({
      peer: 'onnxruntime', mode: args.mode, graph: args.graph, batch, images_per_second: 1000 * batch / median,
      latency_ms: median, passes: ms.length,
      setting: `onnxruntime-node ${ort.env.versions.node}, intra-op threads ${args.threads}, ` +
               `spinning ${args.spinning === '1' ? 'on' : 'off'}, graph optimization all`,
    }));
  }
}

function argmaxRows(logits, rows, classes) {
  const out = [];
  for (let r = 0; r < rows; ++r) {
    let best = 0;
    for (let c = 1; c < classes; ++c) if (logits[r * classes + c] > logits[r * classes + best]) best = c;
    out.push(best);
  }
  return out;
}

async function predictions(graph, images, count, args) {
  const session = await ort.InferenceSession.create(graph, sessionOptions(args));
  const input = session.inputNames[0];
  const per = 3 * args.imgSize * args.imgSize;
  const kBatch = 25;
  const out = [];
  for (let i = 0; i < count; i += kBatch) {
    const n = Math.min(kBatch, count - i);
    const x = new ort.Tensor('float32', images.subarray(i * per, (i + n) * per), [n, 3, args.imgSize, args.imgSize]);
    const result = await session.run({[input]: x});
    const logits = result[session.outputNames[0]];
    out.push(...argmaxRows(logits.data, n, logits.dims[1]));
  }
  return out;
}

async function check(args) {
  const buffer = fs.readFileSync(args.images);
  const images = new Float32Array(buffer.buffer, buffer.byteOffset, buffer.byteLength / 4);
  const labels = JSON.parse(fs.readFileSync(args.labels, 'utf8'));
  const count = labels.length;
  const a = await predictions(args.graph, images, count, args);
  const b = await predictions(args.against, images, count, args);
  let agree = 0, correctA = 0, correctB = 0;
  for (let i = 0; i < count; ++i) {
    agree += a[i] === b[i];
    correctA += a[i] === labels[i];
    correctB += b[i] === labels[i];
  }
  console.log(JSON.stringify({check: 'top1', graph: args.graph, against: args.against, images: count, agree,
                              top1_a: 100 * correctA / count, top1_b: 100 * correctB / count}));
}

const args = parseArgs(process.argv.slice(2));
(args.command === 'bench' ? bench(args) : args.command === 'check' ? check(args) :
  Promise.reject(new Error(`ort_peer.js: command ${args.command}: expected bench or check`)))
  .catch((e) => {
    console.error(e.message);
    process.exit(1);
  });
