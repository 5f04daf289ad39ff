/**
 * The bind-group cache (shared/compute/webgpu/bind-group-cache.ts), on a stand-in device that records what it is
 * asked to create: a repeated descriptor gets the same bind group without a new creation; any change of layout,
 * buffer, binding, offset or size gets a new one; textures are never cached; the least recently used entry goes
 * first when the bound is reached.
 */
import { expect } from 'chai';
import { bindGroupCacheStats, installBindGroupCache } from '../shared/compute/webgpu/bind-group-cache.js';

interface Desc {
  layout: object;
  entries: { binding: number; resource: unknown }[];
}

function fakeDevice(): { device: { createBindGroup(d: Desc): unknown }; created: Desc[] } {
  const created: Desc[] = [];
  return { created, device: { createBindGroup: (d: Desc) => (created.push(d), { group: created.length }) } };
}

describe('webgpu bind-group cache', () => {
  const layout = {};
  const [a, b, u] = [{}, {}, {}];
  const desc = (x: object, size = 64, l: object = layout): Desc => ({
    layout: l,
    entries: [
      { binding: 0, resource: { buffer: x } },
      { binding: 1, resource: { buffer: b } },
      { binding: 2, resource: { buffer: u, offset: 0, size } },
    ],
  });

  it('serves a repeated descriptor from the cache and creates anew for any difference', () => {
    const { device, created } = fakeDevice();
    installBindGroupCache(device, 16);
    const hits = bindGroupCacheStats.hits;
    const g1 = device.createBindGroup(desc(a));
    expect(device.createBindGroup(desc(a))).to.equal(g1);
    expect(created).to.have.length(1);
    expect(bindGroupCacheStats.hits - hits).to.equal(1);
    const others = [desc(b), desc(a, 128), desc(a, 64, {})];
    for (const d of others) expect(device.createBindGroup(d)).to.not.equal(g1);
    expect(created).to.have.length(4);
  });

  it('does not cache bindings that are not buffers', () => {
    const { device, created } = fakeDevice();
    installBindGroupCache(device, 16);
    const view = { texture: true };
    const d: Desc = { layout, entries: [{ binding: 0, resource: view }] };
    expect(device.createBindGroup(d)).to.not.equal(device.createBindGroup(d));
    expect(created).to.have.length(2);
  });

  it('evicts the least recently used entry at the bound', () => {
    const { device, created } = fakeDevice();
    installBindGroupCache(device, 2);
    const [x, y, z] = [{}, {}, {}];
    const gx = device.createBindGroup(desc(x));
    device.createBindGroup(desc(y));
    expect(device.createBindGroup(desc(x))).to.equal(gx); // x is now the most recently used
    device.createBindGroup(desc(z)); // evicts y
    expect(created).to.have.length(3);
    expect(device.createBindGroup(desc(x))).to.equal(gx);
    device.createBindGroup(desc(y));
    expect(created).to.have.length(4);
  });
});
