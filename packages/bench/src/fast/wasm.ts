/**
 * The WebAssembly SIMD kernels (assembly/kernels.ts → wasm/kernels.wasm) and the memory they work
 * in. An `Arena` is one instance of the module with its own linear memory and a bump allocator:
 * one per training call (its replicas and the shared evaluation sets live there) and dropped with
 * it, so nothing is ever freed by hand.
 *
 * Typed-array views of wasm memory detach when the memory grows: take views through `f32()` right
 * before use, never keep them across an allocation.
 */
import type { LaneFiller, LaneRange, LaneStream, SubsetTargets } from '../tasks/lanes.js';
import { LANES } from '../tasks/lanes.js';

/** The slice of the WebAssembly JS API used here (the project's lib settings do not declare it). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}
const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

interface KernelExports {
  memory: WasmMemory;
  heapBase(): number;
  sums(
    x: number,
    w: number,
    s: number,
    rows: number,
    n: number,
    m: number,
    sStride: number,
    sOff: number,
  ): void;
  sumsGrad(
    x: number,
    d: number,
    g: number,
    rows: number,
    n: number,
    m: number,
    dStride: number,
    dOff: number,
  ): void;
  logAbs(x: number, out: number, count: number, eps: number): void;
  demote(src: number, dst: number, count: number): void;
  fillLanes(
    state: number,
    out: number,
    count: number,
    lo0: number,
    lo1: number,
    width: number,
    two: number,
  ): void;
  stepPairHead(
    x: number,
    w: number,
    y: number,
    g: number,
    out: number,
    rows: number,
    n: number,
    head: number,
    hw0: number,
    hw1: number,
    scale: number,
  ): void;
  adam(
    p: number,
    g: number,
    m: number,
    v: number,
    n: number,
    lr: number,
    beta1: number,
    beta2: number,
    k1: number,
    k2: number,
    c1: number,
    c2: number,
    eps: number,
  ): void;
  targets(
    x: number,
    y: number,
    rows: number,
    n: number,
    s0: number,
    e0: number,
    s1: number,
    e1: number,
    code: number,
    k: number,
  ): void;
}

let compiled: object | undefined;

/**
 * Hands the fused trainer its kernels: the bytes of `@nalm/bench/kernels.wasm` (or a compiled
 * `WebAssembly.Module`). The core never reads files, so it cannot find them itself: @nalm/cli loads
 * them from node_modules; a page fetches them (browsers compile modules over 4 KB on the main
 * thread only asynchronously: pass `await WebAssembly.compile(bytes)` there). `null` forgets them:
 * the fused engine is then unavailable and the tfjs trainer draws its batches in JavaScript (the
 * same values).
 */
export function useKernels(kernels: Uint8Array | object | null): void {
  compiled = kernels === null ? undefined : kernels instanceof Uint8Array ? new WA.Module(kernels) : kernels;
}

/** Whether `useKernels` has been called (the fused engine is usable). */
export function kernelsLoaded(): boolean {
  return compiled !== undefined;
}

function kernelModule(): object {
  if (!compiled) {
    throw new Error(
      'The fused trainer has no wasm kernels: call useKernels(bytes) with the bytes of ' +
        "@nalm/bench/kernels.wasm first (in Node, import '@nalm/cli' or call its loadKernels()), " +
        "or train with engine 'tfjs'.",
    );
  }
  return compiled;
}

const PAGE = 65536;
const stateWords = 4 * LANES;

export class Arena implements LaneFiller {
  readonly k: KernelExports;
  private top: number;
  /** The memory's buffer as of the last growth (see `memoryBuffer`). */
  private buffer: ArrayBuffer;
  /** Scratch for a lane stream's state (32 u32) while the kernel draws. */
  private readonly lanePtr: number;
  private laneState: Uint32Array | null = null;

  constructor() {
    const instance = new WA.Instance(kernelModule(), {
      env: {
        abort: () => {
          throw new Error('wasm kernels: abort (a bug in assembly/kernels.ts)');
        },
      },
    });
    this.k = instance.exports as unknown as KernelExports;
    this.buffer = this.k.memory.buffer;
    this.top = this.k.heapBase();
    this.lanePtr = this.allocF32(stateWords);
  }

  /**
   * `stream.fill(out, 0, count, range)` in SIMD: bit-identical values and state (tested). `out` must
   * be a view of this arena's memory.
   */
  fillLanes(stream: LaneStream, range: LaneRange, out: Float32Array, count: number): void {
    const mem = this.memoryBuffer;
    if (out.buffer !== mem || out.length < count) {
      throw new Error(
        'Arena.fillLanes: out must be a view of this arena (Model.inputBuffer) with room for count values',
      );
    }
    if (this.laneState?.buffer !== mem) this.laneState = new Uint32Array(mem, this.lanePtr, stateWords);
    const st = this.laneState;
    st.set(stream.state);
    this.k.fillLanes(
      this.lanePtr,
      out.byteOffset,
      count,
      range.lo0,
      range.lo1,
      range.width,
      range.two ? 1 : 0,
    );
    stream.state.set(st);
  }

  /** Scratch for `subsetTargets` (float64, `targetRows` of them) and its view. */
  private targetPtr = 0;
  private targetRows = 0;
  private targetView: Float64Array | null = null;

  /** Make room for the targets of `rows` rows (allocates: views taken before may detach). */
  reserveTargets(rows: number): void {
    if (rows <= this.targetRows) return;
    this.targetPtr = this.allocF32(2 * rows);
    this.targetRows = rows;
    this.targetView = null;
  }

  /**
   * The static task's targets of `rows` rows of `x` (a view of this arena's memory, e.g. the batch
   * `fillLanes` just drew) into `y`: the same doubles as tasks/static.ts computes (tested). Returns
   * false, computing nothing, when `reserveTargets` has not made room for `rows` rows (it never
   * allocates itself, so `x` stays valid).
   */
  subsetTargets(x: Float32Array, y: Float64Array, rows: number, t: SubsetTargets): boolean {
    if (rows > this.targetRows) return false;
    const mem = this.memoryBuffer;
    if (x.buffer !== mem || x.length < rows * t.inputSize) {
      throw new Error('Arena.subsetTargets: x must be a view of this arena with rows · inputSize values');
    }
    let v = this.targetView;
    if (v === null || v.buffer !== mem) {
      v = this.targetView = new Float64Array(mem, this.targetPtr, this.targetRows);
    }
    this.k.targets(
      x.byteOffset,
      this.targetPtr,
      rows,
      t.inputSize,
      t.s0,
      t.e0,
      t.s1,
      t.e1,
      t.code,
      t.subsets,
    );
    if (rows === v.length) y.set(v);
    else y.set(v.subarray(0, rows));
    return true;
  }

  /** A 16-byte aligned block of `count` f32 values (zeroed: fresh memory is). Returns its pointer. */
  allocF32(count: number): number {
    const ptr = (this.top + 15) & ~15;
    const end = ptr + 4 * count;
    if (end > this.buffer.byteLength) {
      const mem = this.k.memory;
      mem.grow(Math.ceil((end - this.buffer.byteLength) / PAGE));
      this.buffer = mem.buffer;
    }
    this.top = end;
    return ptr;
  }

  /**
   * The memory's current buffer. Only `allocF32` grows the memory (the kernels allocate nothing), so
   * this field is kept there instead of calling the `memory.buffer` getter on every step. A view
   * made on an earlier buffer is detached: compare a kept view's `buffer` with this to reuse it.
   */
  get memoryBuffer(): ArrayBuffer {
    return this.buffer;
  }

  /** Views handed out since the memory last grew, by pointer (the training loop asks for the same few every step). */
  private views = new Map<number, Float32Array>();
  private viewBuffer: ArrayBuffer | null = null;

  /** A view of `count` f32 values at `ptr`, valid until the next allocation. */
  f32(ptr: number, count: number): Float32Array {
    const buffer = this.memoryBuffer;
    if (buffer !== this.viewBuffer) {
      this.views.clear();
      this.viewBuffer = buffer;
    }
    let v = this.views.get(ptr);
    if (v === undefined || v.length !== count) {
      v = new Float32Array(buffer, ptr, count);
      this.views.set(ptr, v);
    }
    return v;
  }

  private readonly copies = new WeakMap<Float32Array, number>();
  private readonly logs = new Map<string, number>();

  /**
   * The arena's copy of a constant input (an evaluation set), made once per array and shared by
   * every replica of the arena.
   */
  constantInput(x: Float32Array): number {
    let ptr = this.copies.get(x);
    if (ptr === undefined) {
      ptr = this.allocF32(x.length);
      this.f32(ptr, x.length).set(x);
      this.copies.set(x, ptr);
    }
    return ptr;
  }

  /** log(|x| + ε) of a constant input (see `constantInput`), computed once per (array, ε). */
  constantLogs(x: Float32Array, eps: number): number {
    const src = this.constantInput(x);
    const key = `${src}|${eps}`;
    let ptr = this.logs.get(key);
    if (ptr === undefined) {
      ptr = this.allocF32(x.length);
      this.k.logAbs(src, ptr, x.length, eps);
      this.logs.set(key, ptr);
    }
    return ptr;
  }
}
