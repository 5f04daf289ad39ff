/**
 * The `rfl` process's old-generation growth (shared/util/heap-growth.ts): the default, the switch-off, refusals,
 * and the binary refusing a bad value before it runs any command.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { DEFAULT_HEAP_GROWING_PERCENT, tuneHeapGrowth } from '../shared/util/heap-growth.js';

describe('heap growth of the rfl process', () => {
  it('asks for 200 % by default, takes another value, and 0 keeps V8 its own choice', () => {
    expect(DEFAULT_HEAP_GROWING_PERCENT).to.equal(200);
    expect(tuneHeapGrowth({ RFL_HEAP_GROWING_PERCENT: '50' })).to.equal(50);
    expect(tuneHeapGrowth({ RFL_HEAP_GROWING_PERCENT: '0' })).to.equal(undefined);
    expect(tuneHeapGrowth({ RFL_HEAP_GROWING_PERCENT: ' ' })).to.equal(200);
    // Last: this test process keeps the growth the rfl binary runs with.
    expect(tuneHeapGrowth({})).to.equal(200);
  });

  it('refuses what is not an integer in [0, 1000], naming the variable', () => {
    for (const bad of ['-1', '1001', '2.5', 'lots']) {
      expect(() => tuneHeapGrowth({ RFL_HEAP_GROWING_PERCENT: bad })).to.throw(`RFL_HEAP_GROWING_PERCENT=${bad}: expected an integer in [0, 1000]`);
    }
  });

  it('the binary stops with that one line before running a command', () => {
    const r = spawnSync(process.execPath, [path.resolve('dist/cli/rfl.js'), '--help'], { encoding: 'utf8', env: { ...process.env, RFL_HEAP_GROWING_PERCENT: 'lots' } });
    expect(r.status).to.not.equal(0);
    expect(r.stdout).to.equal('');
    expect(r.stderr.trim()).to.equal("Error: RFL_HEAP_GROWING_PERCENT=lots: expected an integer in [0, 1000] (0 keeps V8's default growth)");
    const ok = spawnSync(process.execPath, [path.resolve('dist/cli/rfl.js'), '--help'], { encoding: 'utf8', env: { ...process.env, RFL_HEAP_GROWING_PERCENT: '0' } });
    expect(ok.status).to.equal(0);
  });
});
