/**
 * The float64 fused trainer of every NSR task (compare, piecewise, min, count) and every gate (NSR,
 * MLP, NAU gate): plain JS with hand-written gradients, full-batch MAE and Adam exactly as tfjs
 * computes them (Adam's bias correction, |x|' = 1 for x > 0 else −1, the NAU's clamp, its
 * pass-through gradient and sparsity regulariser, the NSR's selection entropy). It exists for two reasons: tfjs has no float64
 * (in float32 a difference of 1 is lost beyond about 10^6, in float64 only beyond about 10^14, see
 * resolution.ts), and the reference's training lengths (500,000 full-batch epochs for piecewise)
 * are out of reach of per-op tfjs dispatch. It is a second implementation of the maths of
 * models.ts, held to the tfjs definitions by `nsr-float64.test.ts` (loss, gradients and training
 * trajectories per task × gate); initial values come from the units' own seeded initialisers.
 *
 * Structure: the data are held as columns and every loop runs over the rows of one column (what
 * V8 compiles to tight code). A `Gate` maps S candidate columns to y ∈ (0, 1): per epoch it
 * `prepare`s what does not depend on the row (softmax rows, clamped weights), `forward` fills y and
 * caches its internals per `slot` (one per sequence step of the recurrent tasks), `backward` sums
 * dL/dθ over the batch and, for the running minimum, returns dL/dh (h is fed back into the gate);
 * `finish` applies the per-epoch transforms (softmax Jacobian, the NAU gate's two factors) and adds
 * the sums to the gradients. The architectures (compare; piecewise's two NAU branches; min's
 * recurrence with backpropagation through time; count's sum) are `Arch`es bound to one data set.
 */
import { Rng } from '@nalm/units';
import type { NsrPointResult, NsrRecord, NsrRunConfig, RegularizersOn } from './config.js';
import { NSR_RECORD_VERSION, nsrConfigKey, nsrModelOptions, regularizersAt } from './config.js';
import type { LayerSpec } from './models.js';
import { BASELINE_HIDDEN, modelLayers } from './models.js';
import { maxResolvedValue } from './resolution.js';
import type { NsrData } from './tasks.js';
import { testData, testPoints, trainingData } from './tasks.js';
import type { NsrReplica, NsrTrainOptions } from './trainer.js';
import { nsrBatchKey } from './trainer.js';
import { nextTick } from '../tick.js';

/** Parameters by `layer/param`, row-major as the unit's shapes. */
export type Float64Params = Record<string, Float64Array>;

/** Initial values of one seed: the units' initialisers with the tfjs trainer's seed streams. */
export function initFloat64Params(layers: readonly LayerSpec[], seed: number): Float64Params {
  const out: Float64Params = {};
  for (const l of layers) {
    for (const spec of l.def.params(l.shape, l.options)) {
      const rng = new Rng(seed, 'nsr-task', l.name, l.def.name, spec.name);
      out[`${l.name}/${spec.name}`] = Float64Array.from(l.def.init(spec, l.shape, l.options, rng));
    }
  }
  return out;
}

/**
 * Whether five-input gates (piecewise) take their column loops (forward5 and the like) or the row
 * loops every other task takes. Both compute the same bits; the switch exists so that a test can
 * show it (nsr-float64.test.ts). Not exported from the package.
 */
let columnLoops = true;
export function setColumnLoops(on: boolean): void {
  columnLoops = on;
}

/** The piecewise task's five input columns. */
type Five = [Float64Array, Float64Array, Float64Array, Float64Array, Float64Array];
const five = (cols: readonly Float64Array[]) => cols as unknown as Five;
/** Entries k, stride + k, …, 4·stride + k: a five-row weight matrix's column k (row-major). */
const strided5 = (a: Float64Array, stride: number, k: number) =>
  [a[k]!, a[stride + k]!, a[2 * stride + k]!, a[3 * stride + k]!, a[4 * stride + k]!] as const;

const clamp1 = (w: number) => (w < -1 ? -1 : w > 1 ? 1 : w);
/** tfjs's clipByValue passes the gradient where min ≤ w ≤ max. */
const pass1 = (w: number) => (w >= -1 && w <= 1 ? 1 : 0);

/**
 * A gate over a batch held as columns (candidate j of row i is `cols[j][i]`). `slot` names a cache
 * of the forward's internals: the recurrent tasks call the gate once per sequence step and
 * backpropagate through all of them, so each step keeps its own.
 */
interface Gate {
  /** Per-epoch state from the parameters (softmax rows, clamped weights); zeroes the sums. */
  prepare(p: Float64Params): void;
  /** y[i] for rows i < n. */
  forward(cols: readonly Float64Array[], n: number, y: Float64Array, slot: number): void;
  /** After `forward` of the same slot: sums for dL/dy = dy; dL/d(candidate 0) into `dc0` if given. */
  backward(
    cols: readonly Float64Array[],
    n: number,
    dy: Float64Array,
    slot: number,
    dc0: Float64Array | null,
  ): void;
  /** Add the epoch's sums to the parameter gradients `g` (once per epoch, after the batch). */
  finish(g: Float64Params): void;
}

/** Per-slot scratch arrays, grown on demand. */
function slots(perRow: number) {
  const caches: Float64Array[] = [];
  return (slot: number, n: number): Float64Array => {
    let a = caches[slot];
    if (!a || a.length < perRow * n) a = caches[slot] = new Float64Array(perRow * n);
    return a;
  };
}

/**
 * y = σ(b + Σ_r tanh(ζd_r)·W±_r + (1 − 2tanh²(ζd_r))·W0_r), d_r = x·softmax(V1)_r − x·softmax(V2)_r:
 * the NSR with R operand pairs (units/src/nsr.ts; V [S, R] row-major, softmax over S per column).
 */
function nsrGate(S: number, zeta: number, R: number): Gate {
  const p1 = new Float64Array(S * R);
  const p2 = new Float64Array(S * R);
  // Σ over the batch of dL/do1_r · c_j and dL/do2_r · c_j: the softmax Jacobian is applied once.
  const gp1 = new Float64Array(S * R);
  const gp2 = new Float64Array(S * R);
  const tanhOf = slots(R); // t[i·R + r]
  const yOf = slots(1);
  let ws: Float64Array = new Float64Array(R);
  let wz: Float64Array = new Float64Array(R);
  let b = 0;
  const gws = new Float64Array(R);
  const gwz = new Float64Array(R);
  let gb = 0;
  const sel0 = new Float64Array(R);
  const row = new Float64Array(S); // row i's candidates, read once for all R pairs
  const softmax = (v: Float64Array, out: Float64Array) => {
    for (let r = 0; r < R; r++) {
      let m = -Infinity;
      for (let j = 0; j < S; j++) if (v[j * R + r]! > m) m = v[j * R + r]!;
      let s = 0;
      for (let j = 0; j < S; j++) s += out[j * R + r] = Math.exp(v[j * R + r]! - m);
      for (let j = 0; j < S; j++) out[j * R + r]! /= s;
    }
  };
  // The piecewise task's S = 5, pair by pair over the columns, the weights in locals: the same
  // operations in the same order as the row loop below (so the same bits), about twice as fast. The
  // slot's tanh cache is pair-major here (T[r·n + i]); only these two functions read it.
  const rowSums = slots(1); // U (forward), then dL/du (backward): one per row
  const forward5 = (
    cols: readonly Float64Array[],
    n: number,
    y: Float64Array,
    T: Float64Array,
    Y: Float64Array,
  ) => {
    const [c0, c1, c2, c3, c4] = five(cols);
    const U = rowSums(0, n);
    U.fill(b, 0, n);
    for (let r = 0; r < R; r++) {
      const [a0, a1, a2, a3, a4] = strided5(p1, R, r);
      const [e0, e1, e2, e3, e4] = strided5(p2, R, r);
      const w = ws[r]!;
      const z = wz[r]!;
      const off = r * n;
      for (let i = 0; i < n; i++) {
        const x0 = c0[i]!,
          x1 = c1[i]!,
          x2 = c2[i]!,
          x3 = c3[i]!,
          x4 = c4[i]!;
        let o1 = 0;
        o1 += x0 * a0;
        o1 += x1 * a1;
        o1 += x2 * a2;
        o1 += x3 * a3;
        o1 += x4 * a4;
        let o2 = 0;
        o2 += x0 * e0;
        o2 += x1 * e1;
        o2 += x2 * e2;
        o2 += x3 * e3;
        o2 += x4 * e4;
        const t = Math.tanh(zeta * (o1 - o2));
        T[off + i] = t;
        let u = U[i]!;
        u += t * w;
        u += (1 - 2 * t * t) * z;
        U[i] = u;
      }
    }
    for (let i = 0; i < n; i++) y[i] = Y[i] = 1 / (1 + Math.exp(-U[i]!));
  };
  const backward5 = (
    cols: readonly Float64Array[],
    n: number,
    dy: Float64Array,
    T: Float64Array,
    Y: Float64Array,
  ) => {
    const [c0, c1, c2, c3, c4] = five(cols);
    const DU = rowSums(0, n); // the forward's sums are not needed again
    for (let i = 0; i < n; i++) {
      const y = Y[i]!;
      const du = dy[i]! * y * (1 - y);
      DU[i] = du;
      gb += du;
    }
    for (let r = 0; r < R; r++) {
      const w = ws[r]!;
      const z = wz[r]!;
      const off = r * n;
      let sws = gws[r]!,
        swz = gwz[r]!;
      let [g0, g1, g2, g3, g4] = strided5(gp1, R, r);
      for (let i = 0; i < n; i++) {
        const t = T[off + i]!;
        const du = DU[i]!;
        sws += du * t;
        swz += du * (1 - 2 * t * t);
        const dd = du * (w - 4 * t * z) * zeta * (1 - t * t);
        g0 += dd * c0[i]!;
        g1 += dd * c1[i]!;
        g2 += dd * c2[i]!;
        g3 += dd * c3[i]!;
        g4 += dd * c4[i]!;
      }
      gws[r] = sws;
      gwz[r] = swz;
      [gp1[r], gp1[R + r], gp1[2 * R + r], gp1[3 * R + r], gp1[4 * R + r]] = [g0, g1, g2, g3, g4];
    }
  };
  return {
    prepare(p) {
      softmax(p['gate.nsr/V1']!, p1);
      softmax(p['gate.nsr/V2']!, p2);
      ws = p['gate.nsr/W_sign']!;
      wz = p['gate.nsr/W_zero']!;
      b = p['gate.nsr/b']![0]!;
      for (let r = 0; r < R; r++) sel0[r] = p1[r]! - p2[r]!;
      gp1.fill(0);
      gp2.fill(0);
      gws.fill(0);
      gwz.fill(0);
      gb = 0;
    },
    forward(cols, n, y, slot) {
      const T = tanhOf(slot, n);
      const Y = yOf(slot, n);
      if (S === 5 && columnLoops) return forward5(cols, n, y, T, Y);
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < S; j++) row[j] = cols[j]![i]!;
        let u = b;
        for (let r = 0; r < R; r++) {
          let o1 = 0;
          let o2 = 0;
          for (let j = 0; j < S; j++) {
            o1 += row[j]! * p1[j * R + r]!;
            o2 += row[j]! * p2[j * R + r]!;
          }
          const t = Math.tanh(zeta * (o1 - o2));
          T[i * R + r] = t;
          u += t * ws[r]!;
          u += (1 - 2 * t * t) * wz[r]!;
        }
        y[i] = Y[i] = 1 / (1 + Math.exp(-u));
      }
    },
    backward(cols, n, dy, slot, dc0) {
      const T = tanhOf(slot, n);
      const Y = yOf(slot, n);
      if (S === 5 && !dc0 && columnLoops) return backward5(cols, n, dy, T, Y);
      for (let i = 0; i < n; i++) {
        const y = Y[i]!;
        const du = dy[i]! * y * (1 - y);
        gb += du;
        for (let j = 0; j < S; j++) row[j] = cols[j]![i]!;
        let dc = 0;
        for (let r = 0; r < R; r++) {
          const t = T[i * R + r]!;
          gws[r]! += du * t;
          gwz[r]! += du * (1 - 2 * t * t);
          const dd = du * (ws[r]! - 4 * t * wz[r]!) * zeta * (1 - t * t);
          for (let j = 0; j < S; j++) gp1[j * R + r]! += dd * row[j]!;
          // The first term as is, not 0 + term: R = 1 keeps the one-pair code's −0 (records unchanged).
          dc = r === 0 ? dd * sel0[0]! : dc + dd * sel0[r]!;
        }
        if (dc0) dc0[i] = dc;
      }
    },
    finish(g) {
      g['gate.nsr/b']![0]! += gb;
      const gs = g['gate.nsr/W_sign']!;
      const gz = g['gate.nsr/W_zero']!;
      for (let r = 0; r < R; r++) {
        gs[r]! += gws[r]!;
        gz[r]! += gwz[r]!;
      }
      // o2 enters d with the opposite sign: its sums are −gp1. softmax: dv_j = p_j (dp_j − Σ_k p_k dp_k) per column.
      for (let k = 0; k < S * R; k++) gp2[k] = -gp1[k]!;
      for (const [name, pr, dp] of [
        ['gate.nsr/V1', p1, gp1],
        ['gate.nsr/V2', p2, gp2],
      ] as const) {
        const gv = g[name]!;
        for (let r = 0; r < R; r++) {
          let dot = 0;
          for (let j = 0; j < S; j++) dot += pr[j * R + r]! * dp[j * R + r]!;
          for (let j = 0; j < S; j++) gv[j * R + r]! += pr[j * R + r]! * (dp[j * R + r]! - dot);
        }
      }
    },
  };
}

/** The reference's two-layer baseline σ(σ(x·W1 + b1)·W2 + b2), H hidden units (dense.ts). */
function mlpGate(S: number): Gate {
  const H = BASELINE_HIDDEN;
  const hOf = slots(H); // h[k·n + i]
  const yOf = slots(1);
  const gW1 = new Float64Array(S * H);
  const gb1 = new Float64Array(H);
  const gW2 = new Float64Array(H);
  let gb2 = 0;
  let W1: Float64Array = new Float64Array(0);
  let b1: Float64Array = new Float64Array(0);
  let W2: Float64Array = new Float64Array(0);
  let b2 = 0;
  let du = new Float64Array(0);
  return {
    prepare(p) {
      W1 = p['gate.l1/W']!;
      b1 = p['gate.l1/b']!;
      W2 = p['gate.l2/W']!;
      b2 = p['gate.l2/b']![0]!;
      gW1.fill(0);
      gb1.fill(0);
      gW2.fill(0);
      gb2 = 0;
    },
    forward(cols, n, y, slot) {
      const h = hOf(slot, n);
      const Y = yOf(slot, n);
      Y.fill(b2, 0, n);
      for (let k = 0; k < H; k++) {
        const bk = b1[k]!;
        const w2 = W2[k]!;
        const hk = h.subarray(k * n, (k + 1) * n);
        if (S === 2) {
          const c0 = cols[0]!;
          const c1 = cols[1]!;
          const w0 = W1[k]!;
          const w1 = W1[H + k]!;
          for (let i = 0; i < n; i++) {
            const v = 1 / (1 + Math.exp(-(bk + c0[i]! * w0 + c1[i]! * w1)));
            hk[i] = v;
            Y[i]! += v * w2;
          }
        } else if (S === 5 && columnLoops) {
          // The loop below with the weights in locals (same operations, same bits), for piecewise.
          const [c0, c1, c2, c3, c4] = five(cols);
          const [w0, w1, w2_, w3, w4] = strided5(W1, H, k);
          for (let i = 0; i < n; i++) {
            let z = bk;
            z += c0[i]! * w0;
            z += c1[i]! * w1;
            z += c2[i]! * w2_;
            z += c3[i]! * w3;
            z += c4[i]! * w4;
            const v = 1 / (1 + Math.exp(-z));
            hk[i] = v;
            Y[i]! += v * w2;
          }
        } else {
          for (let i = 0; i < n; i++) {
            let z = bk;
            for (let j = 0; j < S; j++) z += cols[j]![i]! * W1[j * H + k]!;
            const v = 1 / (1 + Math.exp(-z));
            hk[i] = v;
            Y[i]! += v * w2;
          }
        }
      }
      for (let i = 0; i < n; i++) y[i] = Y[i] = 1 / (1 + Math.exp(-Y[i]!));
    },
    backward(cols, n, dy, slot, dc0) {
      const h = hOf(slot, n);
      const Y = yOf(slot, n);
      if (du.length < n) du = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const d = dy[i]! * Y[i]! * (1 - Y[i]!);
        du[i] = d;
        gb2 += d;
      }
      if (dc0) dc0.fill(0, 0, n);
      for (let k = 0; k < H; k++) {
        const w2 = W2[k]!;
        const hk = h.subarray(k * n, (k + 1) * n);
        const w10 = W1[k]!;
        let sW2 = 0;
        let sb1 = 0;
        if (S === 5 && !dc0 && columnLoops) {
          // The two passes below in one, the five column sums in locals: each sum adds the same
          // terms in the same order, so the same bits.
          const [c0, c1, c2, c3, c4] = five(cols);
          let s0 = 0,
            s1 = 0,
            s2 = 0,
            s3 = 0,
            s4 = 0;
          for (let i = 0; i < n; i++) {
            const v = hk[i]!;
            sW2 += du[i]! * v;
            const dz = du[i]! * w2 * v * (1 - v);
            sb1 += dz;
            s0 += dz * c0[i]!;
            s1 += dz * c1[i]!;
            s2 += dz * c2[i]!;
            s3 += dz * c3[i]!;
            s4 += dz * c4[i]!;
          }
          gW2[k]! += sW2;
          gb1[k]! += sb1;
          gW1[k]! += s0;
          gW1[H + k]! += s1;
          gW1[2 * H + k]! += s2;
          gW1[3 * H + k]! += s3;
          gW1[4 * H + k]! += s4;
          continue;
        }
        for (let i = 0; i < n; i++) {
          const v = hk[i]!;
          sW2 += du[i]! * v;
          const dz = du[i]! * w2 * v * (1 - v);
          hk[i] = dz; // reuse the cache: h is not needed again for this slot
          sb1 += dz;
          if (dc0) dc0[i]! += dz * w10;
        }
        gW2[k]! += sW2;
        gb1[k]! += sb1;
        for (let j = 0; j < S; j++) {
          const c = cols[j]!;
          let s = 0;
          for (let i = 0; i < n; i++) s += hk[i]! * c[i]!;
          gW1[j * H + k]! += s;
        }
      }
    },
    finish(g) {
      const add = (name: string, a: Float64Array) => {
        const t = g[name]!;
        for (let i = 0; i < a.length; i++) t[i]! += a[i]!;
      };
      add('gate.l1/W', gW1);
      add('gate.l1/b', gb1);
      add('gate.l2/W', gW2);
      g['gate.l2/b']![0]! += gb2;
    },
  };
}

/**
 * The reference's NAU comparator σ(b + (x·clamp(W1))·clamp(W2)). Linear before the sigmoid, so per
 * row only v = clamp(W1)·clamp(W2) is needed; the batch's Σ du·x is split into the two factors'
 * gradients once per epoch.
 */
function nauGate(S: number): Gate {
  const H = BASELINE_HIDDEN;
  const cw1 = new Float64Array(S * H);
  const cw2 = new Float64Array(H);
  const v = new Float64Array(S);
  const acc = new Float64Array(S);
  const yOf = slots(1);
  let W1: Float64Array = new Float64Array(0);
  let W2: Float64Array = new Float64Array(0);
  let b = 0;
  let gb = 0;
  return {
    prepare(p) {
      W1 = p['gate.w1/W']!;
      W2 = p['gate.w2/W']!;
      b = p['gate.b/b']![0]!;
      for (let i = 0; i < S * H; i++) cw1[i] = clamp1(W1[i]!);
      for (let k = 0; k < H; k++) cw2[k] = clamp1(W2[k]!);
      for (let j = 0; j < S; j++) {
        let s = 0;
        for (let k = 0; k < H; k++) s += cw1[j * H + k]! * cw2[k]!;
        v[j] = s;
      }
      acc.fill(0);
      gb = 0;
    },
    forward(cols, n, y, slot) {
      const Y = yOf(slot, n);
      for (let i = 0; i < n; i++) {
        let u = b;
        for (let j = 0; j < S; j++) u += cols[j]![i]! * v[j]!;
        y[i] = Y[i] = 1 / (1 + Math.exp(-u));
      }
    },
    backward(cols, n, dy, slot, dc0) {
      const Y = yOf(slot, n);
      for (let i = 0; i < n; i++) {
        const du = dy[i]! * Y[i]! * (1 - Y[i]!);
        gb += du;
        for (let j = 0; j < S; j++) acc[j]! += du * cols[j]![i]!;
        if (dc0) dc0[i] = du * v[0]!;
      }
    },
    finish(g) {
      g['gate.b/b']![0]! += gb;
      const gW1 = g['gate.w1/W']!;
      const gW2 = g['gate.w2/W']!;
      for (let k = 0; k < H; k++) {
        let s = 0;
        for (let j = 0; j < S; j++) {
          s += acc[j]! * cw1[j * H + k]!;
          gW1[j * H + k]! += acc[j]! * cw2[k]! * pass1(W1[j * H + k]!);
        }
        gW2[k]! += s * pass1(W2[k]!);
      }
    },
  };
}

function gateOf(c: NsrRunConfig, S: number): Gate {
  return c.model === 'nsr'
    ? nsrGate(S, c.zeta, c.redundancy ?? 1)
    : c.model === 'mlp'
      ? mlpGate(S)
      : nauGate(S);
}

/** The NAU layers (clamped to [−1, 1] after every step, sparsity-regularised) of a model. */
const NAU_PARAMS = ['gate.w1/W', 'gate.w2/W', 'true.W/W', 'false.W/W'];

/** A task's architecture around the gate, bound to one data set (held as columns). */
interface Arch {
  readonly n: number;
  prepare(p: Float64Params): void;
  /** Predictions of every row into `pred`; the gate's y into `gate` (piecewise). */
  forward(pred: Float64Array, gate?: Float64Array): void;
  /** After `forward`: sums for dL/dpred = dp. */
  backward(dp: Float64Array): void;
  finish(g: Float64Params): void;
}

function columns(d: NsrData): Float64Array[] {
  return Array.from({ length: d.width }, (_, j) => {
    const c = new Float64Array(d.n);
    for (let i = 0; i < d.n; i++) c[i] = d.x[i * d.width + j]!;
    return c;
  });
}

function archOf(c: NsrRunConfig, d: NsrData): Arch {
  const cols = columns(d);
  const n = d.n;
  const L = d.width;
  switch (c.task.kind) {
    case 'compare': {
      const gate = gateOf(c, 2);
      return {
        n,
        prepare: (p) => gate.prepare(p),
        forward: (pred) => gate.forward(cols, n, pred, 0),
        backward: (dp) => gate.backward(cols, n, dp, 0, null),
        finish: (g) => gate.finish(g),
      };
    }
    case 'piecewise': {
      // y·(x·clamp(Wt) + bt) + (1 − y)·(x·clamp(Wf) + bf).
      const S = 5;
      const [c0, c1, c2, c3, c4] = five(cols);
      const gate = gateOf(c, S);
      const ct = new Float64Array(S);
      const cf = new Float64Array(S);
      const at = new Float64Array(S); // Σ dpred·y·x_j over the batch
      const af = new Float64Array(S);
      const y = new Float64Array(n);
      const tv = new Float64Array(n);
      const fv = new Float64Array(n);
      const dy = new Float64Array(n);
      let Wt: Float64Array = new Float64Array(0);
      let Wf: Float64Array = new Float64Array(0);
      let bt = 0;
      let bf = 0;
      let gbt = 0;
      let gbf = 0;
      return {
        n,
        prepare(p) {
          gate.prepare(p);
          Wt = p['true.W/W']!;
          Wf = p['false.W/W']!;
          bt = p['true.b/b']![0]!;
          bf = p['false.b/b']![0]!;
          for (let j = 0; j < S; j++) {
            ct[j] = clamp1(Wt[j]!);
            cf[j] = clamp1(Wf[j]!);
          }
          at.fill(0);
          af.fill(0);
          gbt = gbf = 0;
        },
        // The five inputs and the branch weights in locals (what V8 compiles to tight code).
        forward(pred, gateOut) {
          gate.forward(cols, n, y, 0);
          const [t0, t1, t2, t3, t4] = ct;
          const [f0, f1, f2, f3, f4] = cf;
          for (let i = 0; i < n; i++) {
            const x0 = c0[i]!,
              x1 = c1[i]!,
              x2 = c2[i]!,
              x3 = c3[i]!,
              x4 = c4[i]!;
            let t = bt;
            let f = bf;
            t += x0 * t0!;
            f += x0 * f0!;
            t += x1 * t1!;
            f += x1 * f1!;
            t += x2 * t2!;
            f += x2 * f2!;
            t += x3 * t3!;
            f += x3 * f3!;
            t += x4 * t4!;
            f += x4 * f4!;
            tv[i] = t;
            fv[i] = f;
            pred[i] = y[i]! * t + (1 - y[i]!) * f;
          }
          gateOut?.set(y);
        },
        backward(dp) {
          let [a0, a1, a2, a3, a4] = at;
          let [b0, b1, b2, b3, b4] = af;
          for (let i = 0; i < n; i++) {
            dy[i] = dp[i]! * (tv[i]! - fv[i]!);
            const dt = dp[i]! * y[i]!;
            const df = dp[i]! * (1 - y[i]!);
            gbt += dt;
            gbf += df;
            const x0 = c0[i]!,
              x1 = c1[i]!,
              x2 = c2[i]!,
              x3 = c3[i]!,
              x4 = c4[i]!;
            a0! += dt * x0;
            b0! += df * x0;
            a1! += dt * x1;
            b1! += df * x1;
            a2! += dt * x2;
            b2! += df * x2;
            a3! += dt * x3;
            b3! += df * x3;
            a4! += dt * x4;
            b4! += df * x4;
          }
          at.set([a0!, a1!, a2!, a3!, a4!]);
          af.set([b0!, b1!, b2!, b3!, b4!]);
          gate.backward(cols, n, dy, 0, null);
        },
        finish(g) {
          gate.finish(g);
          g['true.b/b']![0]! += gbt;
          g['false.b/b']![0]! += gbf;
          const gt = g['true.W/W']!;
          const gf = g['false.W/W']!;
          for (let j = 0; j < S; j++) {
            gt[j]! += at[j]! * pass1(Wt[j]!);
            gf[j]! += af[j]! * pass1(Wf[j]!);
          }
        },
      };
    }
    case 'min': {
      // h₀ = x₀, h_k = y_k·h_{k−1} + (1 − y_k)·x_k with y_k = gate([h_{k−1}, x_k]); BPTT in backward.
      const gate = gateOf(c, 2);
      const hs = Array.from({ length: L }, (_, k) => (k === 0 ? cols[0]! : new Float64Array(n)));
      const ys = Array.from({ length: L }, () => new Float64Array(n));
      const dh = new Float64Array(n);
      const dy = new Float64Array(n);
      const dc0 = new Float64Array(n);
      return {
        n,
        prepare: (p) => gate.prepare(p),
        forward(pred) {
          for (let k = 1; k < L; k++) {
            const y = ys[k]!;
            const h = hs[k - 1]!;
            const x = cols[k]!;
            const out = hs[k]!;
            gate.forward([h, x], n, y, k);
            for (let i = 0; i < n; i++) out[i] = y[i]! * h[i]! + (1 - y[i]!) * x[i]!;
          }
          pred.set(hs[L - 1]!.subarray(0, n));
        },
        backward(dp) {
          dh.set(dp.subarray(0, n));
          for (let k = L - 1; k >= 1; k--) {
            const h = hs[k - 1]!;
            const x = cols[k]!;
            const y = ys[k]!;
            for (let i = 0; i < n; i++) dy[i] = dh[i]! * (h[i]! - x[i]!);
            gate.backward([h, x], n, dy, k, k > 1 ? dc0 : null);
            if (k > 1) for (let i = 0; i < n; i++) dh[i] = dh[i]! * y[i]! + dc0[i]!;
          }
        },
        finish: (g) => gate.finish(g),
      };
    }
    case 'count': {
      // Σ_{k ≥ 1} (1 − gate([x₀, x_k])).
      const gate = gateOf(c, 2);
      const y = new Float64Array(n);
      const dy = new Float64Array(n);
      return {
        n,
        prepare: (p) => gate.prepare(p),
        forward(pred) {
          pred.fill(0, 0, n);
          for (let k = 1; k < L; k++) {
            gate.forward([cols[0]!, cols[k]!], n, y, k);
            for (let i = 0; i < n; i++) pred[i]! += 1 - y[i]!;
          }
        },
        backward(dp) {
          for (let i = 0; i < n; i++) dy[i] = -dp[i]!;
          for (let k = 1; k < L; k++) gate.backward([cols[0]!, cols[k]!], n, dy, k, null);
        },
        finish: (g) => gate.finish(g),
      };
    }
  }
}

/** NAU sparsity regulariser mean(min(|W|, 1 − |W|)) of each NAU layer, and its tfjs gradient. */
function addSparsity(p: Float64Params, g: Float64Params | null): number {
  let total = 0;
  for (const name of NAU_PARAMS) {
    const W = p[name];
    if (!W) continue;
    let s = 0;
    for (let i = 0; i < W.length; i++) {
      const w = W[i]!;
      const a = Math.abs(w);
      s += Math.min(a, 1 - a);
      if (g) {
        // minimum → the first argument where a ≤ 1 − a; |w|' = 1 for w > 0 else −1 (tfjs).
        const sg = w > 0 ? 1 : -1;
        g[name]![i]! += (a <= 1 - a ? sg : -sg) / W.length;
      }
    }
    total += s / W.length;
  }
  return total;
}

/**
 * λ × the NSR's selection regulariser (units/src/nsr.ts): the mean entropy H = −Σ_j p_j log p_j of
 * the 2R softmax columns of V1 and V2 [S, R]; dH/dv_j = −p_j (log p_j + H) per column.
 */
function addSelectionEntropy(p: Float64Params, g: Float64Params | null, weight: number): number {
  let total = 0;
  for (const name of ['gate.nsr/V1', 'gate.nsr/V2']) {
    const V = p[name];
    if (!V) continue;
    const R = p['gate.nsr/W_sign']!.length;
    const S = V.length / R;
    const scale = weight / (2 * R); // the mean over 2R columns
    const logP = new Float64Array(S);
    for (let r = 0; r < R; r++) {
      let m = -Infinity;
      for (let j = 0; j < S; j++) if (V[j * R + r]! > m) m = V[j * R + r]!;
      let s = 0;
      for (let j = 0; j < S; j++) s += Math.exp(V[j * R + r]! - m);
      const logS = Math.log(s);
      let H = 0;
      for (let j = 0; j < S; j++) {
        logP[j] = V[j * R + r]! - m - logS;
        H -= Math.exp(logP[j]!) * logP[j]!;
      }
      total += scale * H;
      if (g) {
        const gv = g[name]!;
        for (let j = 0; j < S; j++) gv[j * R + r]! -= scale * Math.exp(logP[j]!) * (logP[j]! + H);
      }
    }
  }
  return total;
}

/** Full-batch MAE of one replica (plus the regularisers) and, given `g`, its gradient. */
export function float64LossAndGrad(
  c: NsrRunConfig,
  p: Float64Params,
  data: NsrData,
  /** The regularisers on (regularizersAt); true: every one the configuration has. */
  reg: boolean | RegularizersOn,
  g: Float64Params | null,
  arch: Arch = archOf(c, data),
): number {
  const n = data.n;
  const pred = new Float64Array(n);
  arch.prepare(p);
  arch.forward(pred);
  let loss = 0;
  // d|e|/de = 1 for e > 0, else −1 (tfjs's Abs gradient), over n examples.
  for (let i = 0; i < n; i++) {
    const e = pred[i]! - data.y[i]!;
    loss += Math.abs(e);
    pred[i] = e > 0 ? 1 / n : -1 / n;
  }
  if (g) {
    arch.backward(pred);
    arch.finish(g);
  }
  loss /= n;
  const on = typeof reg === 'boolean' ? { sparsity: reg, selection: reg } : reg;
  if (on.sparsity) loss += addSparsity(p, g);
  if (on.selection && c.selectionPenalty) loss += addSelectionEntropy(p, g, c.selectionPenalty);
  return loss;
}

function zerosLike(p: Float64Params): Float64Params {
  return Object.fromEntries(Object.entries(p).map(([k, v]) => [k, new Float64Array(v.length)]));
}

/** Score a model's predictions on a data set (the tfjs trainer's rule, trainer.ts `score`). */
function scoreSet(arch: Arch, p: Float64Params, d: NsrData) {
  arch.prepare(p);
  const pred = new Float64Array(d.n);
  const gy = new Float64Array(d.n);
  arch.forward(pred, gy);
  let correct = 0;
  let sum = 0;
  let max = 0;
  // Either way round: the branches are interchangeable (see trainer.ts).
  let gateOk = d.gate !== null;
  let gateInverted = d.gate !== null;
  for (let i = 0; i < d.n; i++) {
    const e = Math.abs(pred[i]! - d.y[i]!);
    if (e < 0.5) correct++;
    sum += e;
    if (!(e <= max)) max = e; // NaN sticks
    if (d.gate) {
      if (!(Math.abs(gy[i]! - d.gate[i]!) < 0.5)) gateOk = false;
      if (!(Math.abs(gy[i]! - (1 - d.gate[i]!)) < 0.5)) gateInverted = false;
    }
  }
  return {
    correct,
    success: correct === d.n,
    meanError: sum / d.n,
    maxError: max,
    gateSuccess: d.gate ? gateOk || gateInverted : null,
  };
}

export interface Float64Hooks {
  /** Sees the parameters after every step (parity tests). */
  onEpoch?: (epoch: number, p: Float64Params) => void;
  /** Called every 1000 epochs with the current training MAE. */
  onProgress?: (epoch: number, loss: number) => void;
  /** Checked every 1000 epochs; true stops training and returns null. */
  shouldStop?: () => boolean;
}

type TrainedReplica = { params: Float64Params; record: NsrRecord };

/** Train one replica. A record depends only on its configuration and seed. */
export function trainFloat64Replica(replica: NsrReplica, hooks: Float64Hooks = {}): TrainedReplica | null {
  const training = replicaTraining(replica, hooks);
  for (;;) {
    const r = training.next();
    if (r.done) return r.value;
  }
}

/**
 * The training of one replica, pausing (yield) every 1000 epochs: the async trainer lets the event
 * loop run there, or a stop request (SIGINT/SIGTERM, a worker pool's stop) would wait for the end
 * of a 500,000-epoch run.
 */
function* replicaTraining(replica: NsrReplica, hooks: Float64Hooks): Generator<void, TrainedReplica | null> {
  const c = replica.config;
  const layers = modelLayers(c.task.kind, c.model, nsrModelOptions(c));
  const p = initFloat64Params(layers, replica.seed);
  const m = zerosLike(p);
  const v = zerosLike(p);
  const g = zerosLike(p);
  const train = trainingData(c.task, replica.seed);
  const arch = archOf(c, train);
  const [beta1, beta2, eps] = [0.9, 0.999, 1e-8];
  let acc1 = beta1;
  let acc2 = beta2;
  let diverged: NsrRecord['diverged'] = null;
  const nau = NAU_PARAMS.filter((k) => p[k] !== undefined);
  const keys = Object.keys(p);
  for (let epoch = 1; epoch <= c.epochs; epoch++) {
    for (const k of keys) g[k]!.fill(0);
    const loss = float64LossAndGrad(c, p, train, regularizersAt(c, epoch), g, arch);
    if (!Number.isFinite(loss) && diverged === null)
      diverged = { epoch, reason: `non-finite training loss (${loss}) at epoch ${epoch}` };
    // Adam as tfjs writes it (adam_optimizer.ts): bias corrections through β^t accumulators.
    for (const k of keys) {
      const w = p[k]!;
      const gk = g[k]!;
      const mk = m[k]!;
      const vk = v[k]!;
      for (let i = 0; i < w.length; i++) {
        mk[i] = mk[i]! * beta1 + gk[i]! * (1 - beta1);
        vk[i] = vk[i]! * beta2 + gk[i]! * gk[i]! * (1 - beta2);
        w[i] = (-c.lr * (mk[i]! / (1 - acc1))) / (Math.sqrt(vk[i]! / (1 - acc2)) + eps) + w[i]!;
      }
    }
    acc1 *= beta1;
    acc2 *= beta2;
    for (const k of nau) {
      const w = p[k]!;
      for (let i = 0; i < w.length; i++) w[i] = clamp1(w[i]!);
    }
    hooks.onEpoch?.(epoch, p);
    if (epoch % 1000 === 0) {
      hooks.onProgress?.(epoch, loss);
      if (hooks.shouldStop?.()) return null;
      yield;
    }
  }
  const limit = maxResolvedValue(c.numeric);
  const points: NsrPointResult[] = testPoints(c.task).map((pt) => {
    const d = testData(c.task, pt, replica.seed);
    const sc = scoreSet(archOf(c, d), p, d);
    return {
      exponent: pt.exponent,
      length: pt.length,
      label: pt.label,
      items: d.n,
      ...sc,
      gateSuccess: c.task.kind === 'piecewise' ? sc.gateSuccess : null,
      beyondPrecision: pt.maxValue > limit,
    };
  });
  const record: NsrRecord = {
    v: NSR_RECORD_VERSION,
    kind: 'nsr',
    key: nsrConfigKey(c),
    config: c,
    seed: replica.seed,
    trainLoss: float64LossAndGrad(c, p, train, false, null, arch),
    trainSolved: scoreSet(arch, p, train).success,
    diverged,
    points,
  };
  return { params: p, record };
}

/** The float64 counterpart of `trainNsrReplicas` (replicas are independent loops here). */
export async function trainNsrFloat64(opts: NsrTrainOptions): Promise<NsrRecord[] | null> {
  const specs = opts.replicas;
  if (specs.length === 0) return [];
  const key0 = nsrBatchKey(specs[0]!.config);
  for (const s of specs)
    if (nsrBatchKey(s.config) !== key0)
      throw new Error(`trainNsrFloat64: replicas of one batch must share ${key0}.`);
  const records: NsrRecord[] = [];
  const every = opts.progressEvery ?? 1000;
  for (const [r, s] of specs.entries()) {
    const E = s.config.epochs;
    const training = replicaTraining(s, {
      shouldStop: opts.shouldStop,
      onProgress: (epoch, loss) => {
        if (epoch % every === 0)
          opts.onProgress?.({
            epoch: Math.round(((r + epoch / E) / specs.length) * E),
            epochs: E,
            replicas: specs.length,
            meanLoss: loss,
          });
      },
    });
    let step;
    do {
      await nextTick();
      step = training.next();
    } while (!step.done);
    if (step.value === null) return null;
    records.push(step.value.record);
  }
  return records;
}

/** Predictions of a float64-trained model for rows of inputs. */
export function float64Predict(
  c: NsrRunConfig,
  p: Float64Params,
  rows: readonly (readonly number[])[],
): number[] {
  if (rows.length === 0) return [];
  const d: NsrData = {
    n: rows.length,
    width: rows[0]!.length,
    x: Float64Array.from(rows.flat()),
    y: new Float64Array(rows.length),
    gate: null,
  };
  const arch = archOf(c, d);
  arch.prepare(p);
  const pred = new Float64Array(d.n);
  arch.forward(pred);
  return Array.from(pred);
}
