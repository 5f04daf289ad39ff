/**
 * The `rfl` process's garbage-collector settings (shared/util/gc-tuning.ts): the default, the switch-off,
 * refusals, and the binary refusing a bad value before it runs any command.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { HEAP_GROWING_PERCENT, TUNED_GC_FLAGS, tuneGc } from '../shared/util/gc-tuning.js';

const RFL = path.resolve('dist/cli/rfl.js');

describe('garbage-collector tuning of the rfl process', () => {
  it('tunes by default and with 1, and keeps V8 its defaults with 0', () => {
    expect(TUNED_GC_FLAGS).to.deep.equal([`--heap-growing-percent=${HEAP_GROWING_PERCENT}`, '--no-parallel-scavenge']);
    expect(tuneGc({ RFL_GC_TUNING: '0' })).to.deep.equal([]);
    expect(tuneGc({ RFL_GC_TUNING: ' 1 ' })).to.deep.equal(TUNED_GC_FLAGS);
    // Last: this test process keeps the settings the rfl binary runs with.
    expect(tuneGc({})).to.deep.equal(TUNED_GC_FLAGS);
  });

  it('refuses any other value, naming the variable', () => {
    for (const bad of ['2', 'yes', 'off']) expect(() => tuneGc({ RFL_GC_TUNING: bad })).to.throw(`RFL_GC_TUNING=${bad}: expected 1`);
  });

  it('the binary stops with that one line before running a command, and runs with 0', () => {
    const r = spawnSync(process.execPath, [RFL, '--help'], { encoding: 'utf8', env: { ...process.env, RFL_GC_TUNING: 'off' } });
    expect(r.status).to.not.equal(0);
    expect(r.stdout).to.equal('');
    expect(r.stderr.trim()).to.equal("Error: RFL_GC_TUNING=off: expected 1 (tune V8's garbage collector, the default) or 0 (keep V8's defaults)");
    expect(spawnSync(process.execPath, [RFL, '--help'], { encoding: 'utf8', env: { ...process.env, RFL_GC_TUNING: '0' } }).status).to.equal(0);
  });
});
