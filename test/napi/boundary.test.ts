// The N-API boundary: every export of the addon, called with wrong types, wrong shapes, disposed tensors, fake
// devices and absurd sizes (boundary-child.ts), must throw a JS exception — never crash the process. It runs in a
// child so a crash is a failure that names the case, not a dead mocha.
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';

describe('N-API boundary: bad arguments to every export', function () {
  this.timeout(600000);
  it('throws JS exceptions, never crashes', () => {
    const cur = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mrigan-napi-')), 'current.txt');
    const r = spawnSync(process.execPath, [path.join(__dirname, 'boundary-child.js')], {
      encoding: 'utf8', timeout: 540000, env: { ...process.env, MRIGAN_NAPI_CURRENT: cur, MRIGAN_DEVICE: 'cpu', MRIGAN_THREADS: '1' },
    });
    const last = fs.existsSync(cur) ? fs.readFileSync(cur, 'utf8').trim() : '?';
    expect(r.status, `child died (signal ${r.signal}) during ${last}\n${r.stderr.slice(-3000)}`).to.equal(0);
    const res = JSON.parse(r.stdout.trim().split('\n').pop()!);
    process.stdout.write(`    napi: ${res.exports} exports (${res.recorded} with recorded templates), ${res.cases} bad-argument cases: ${res.threw} threw, ${res.returned} returned\n`);
    expect(res.exports).to.be.at.least(60);
    expect(Object.keys(res.perExport).length).to.equal(res.exports);
    expect(res.threw).to.be.above(res.cases * 0.8);
    // a disposed or empty handle, a fake device, NaN/Inf or a 2^40-element shape is never accepted
    expect(res.accepted, res.accepted.join('\n')).to.deep.equal([]);
  });
});
