/**
 * Reuses WebGPU bind groups. tfjs-backend-webgpu creates a new bind group for every dispatch, which on the H200
 * host cost 12–18 µs of the 50–70 µs a small op takes (bench/gpu/dispatch-costs.ts). Its buffers come from a pool
 * that hands them out in the same order whenever the same ops run again, so a training step or an attack step
 * asks for the same (layout, buffers, ranges) combinations every time: those are served from a cache.
 *
 * Safe because a bind group is immutable and refers to its buffers by identity: a hit is exactly the object Dawn
 * would have built. A buffer that tfjs destroys is never bound again, so entries holding one are never hit and age
 * out of the LRU bound. Entries that bind anything but whole or ranged buffers (textures) are not cached.
 */

interface BufferBinding {
  buffer: object;
  offset?: number;
  size?: number;
}
interface Descriptor {
  layout: object;
  entries: { binding: number; resource: unknown }[];
}
interface DeviceLike {
  createBindGroup(d: Descriptor): unknown;
}

/** Hits and misses since the cache was installed (for benchmarks and tests). */
export const bindGroupCacheStats = { hits: 0, misses: 0, uncachable: 0 };

const ids = new WeakMap<object, number>();
let nextId = 1;
function idOf(o: object): number {
  let id = ids.get(o);
  if (id === undefined) {
    id = nextId++;
    ids.set(o, id);
  }
  return id;
}

function keyOf(d: Descriptor): string | undefined {
  let key = String(idOf(d.layout));
  for (const e of d.entries) {
    const r = e.resource as BufferBinding | null;
    if (r === null || typeof r !== 'object' || typeof r.buffer !== 'object' || r.buffer === null) return undefined;
    key += `|${e.binding}:${idOf(r.buffer)}:${r.offset ?? 0}:${r.size ?? -1}`;
  }
  return key;
}

const installed = new WeakSet<object>();

/**
 * Dawn's Node binding returns a new wrapper object from every `pipeline.getBindGroupLayout(i)` call, and tfjs asks
 * for one per dispatch, so layouts would never compare equal: memoise them per pipeline.
 */
function memoiseBindGroupLayouts(): void {
  const proto = (globalThis as { GPUComputePipeline?: { prototype: { getBindGroupLayout(i: number): object } } }).GPUComputePipeline?.prototype;
  if (proto === undefined || installed.has(proto)) return;
  installed.add(proto);
  // eslint-disable-next-line @typescript-eslint/unbound-method -- kept to be called with .call(this) by the wrapper below
  const get = proto.getBindGroupLayout;
  const layouts = new WeakMap<object, Map<number, object>>();
  proto.getBindGroupLayout = function (this: object, i: number): object {
    let byIndex = layouts.get(this);
    if (byIndex === undefined) layouts.set(this, (byIndex = new Map<number, object>()));
    let layout = byIndex.get(i);
    if (layout === undefined) byIndex.set(i, (layout = get.call(this, i)));
    return layout;
  };
}

/** Wraps `device.createBindGroup` with an LRU cache of `maxEntries` bind groups (once per device). */
export function installBindGroupCache(device: DeviceLike, maxEntries = 4096): void {
  if (installed.has(device)) return;
  installed.add(device);
  memoiseBindGroupLayouts();
  const create = device.createBindGroup.bind(device);
  const cache = new Map<string, unknown>();
  device.createBindGroup = (d: Descriptor): unknown => {
    const key = keyOf(d);
    if (key === undefined) {
      bindGroupCacheStats.uncachable++;
      return create(d);
    }
    const hit = cache.get(key);
    if (hit !== undefined) {
      bindGroupCacheStats.hits++;
      // Map order is insertion order: re-inserting marks the entry most recently used.
      cache.delete(key);
      cache.set(key, hit);
      return hit;
    }
    bindGroupCacheStats.misses++;
    const group = create(d);
    cache.set(key, group);
    if (cache.size > maxEntries) cache.delete(cache.keys().next().value!);
    return group;
  };
}
