// .npz statistics: our writer read back, np.savez / np.savez_compressed files written by the system NumPy read by us
// (stored and deflated, float32 and Fortran order too), our files read by np.load, and malformed files rejected.
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readNpz, readFidStats, readFidStatsMeta, writeFidStats, crc32 } from '../../lib/metrics/npz';
import { gaussian, pythonHas, runPython } from './util';

describe('metrics npz', () => {
  let dir: string;
  before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mrigan-npz-')); });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('crc32 of known strings', () => {
    expect(crc32(Buffer.from('123456789'))).to.equal(0xcbf43926);
    expect(crc32(Buffer.alloc(0))).to.equal(0);
  });

  it('round-trips mu and sigma exactly and leaves no temp file', () => {
    const d = 9, mu = gaussian(d, 1), sigma = gaussian(d * d, 2);
    const f = path.join(dir, 'rt.npz');
    writeFidStats(f, { mu, sigma });
    const r = readFidStats(f);
    expect(r.d).to.equal(d);
    expect(Array.from(r.mu)).to.deep.equal(Array.from(mu));
    expect(Array.from(r.sigma)).to.deep.equal(Array.from(sigma));
    expect(fs.readdirSync(dir).filter((n) => n.includes('.tmp'))).to.deep.equal([]);
  });

  it('reads np.savez and np.savez_compressed files (float64, float32, Fortran order) from NumPy', function () {
    if (!pythonHas('numpy')) { this.skip(); return; }
    runPython(`
import sys, numpy as np
d = 6
mu = np.arange(d) * 0.5 - 1.25
sigma = np.arange(d * d, dtype=np.float64).reshape(d, d) / 7.0
np.savez(sys.argv[1] + '/a.npz', mu=mu, sigma=sigma)
np.savez_compressed(sys.argv[1] + '/b.npz', mu=mu, sigma=np.asfortranarray(sigma), extra=np.zeros(3))
np.savez(sys.argv[1] + '/c.npz', mu=mu.astype(np.float32), sigma=sigma.astype(np.float32))
np.savez(sys.argv[1] + '/bad.npz', mu=mu, sigma=sigma[:, :5])
`, [dir]);
    const d = 6;
    const mu = Array.from({ length: d }, (_, i) => i * 0.5 - 1.25), sigma = Array.from({ length: d * d }, (_, i) => i / 7);
    for (const name of ['a', 'b']) {
      const r = readFidStats(path.join(dir, `${name}.npz`));
      expect(Array.from(r.mu), name).to.deep.equal(mu);
      expect(Array.from(r.sigma), name).to.deep.equal(sigma);
    }
    expect([...readNpz(path.join(dir, 'b.npz')).keys()].sort()).to.deep.equal(['extra', 'mu', 'sigma']);
    const c = readFidStats(path.join(dir, 'c.npz'));
    expect(Array.from(c.sigma)).to.deep.equal(sigma.map((v) => Math.fround(v)));
    expect(() => readFidStats(path.join(dir, 'bad.npz'))).to.throw(/bad\.npz: 'sigma' must be 6×6 to match 'mu', has shape \(6, 5\)/);
  });

  it('records the preprocessing and the weights fingerprint beside mu and sigma (absent in plain files)', () => {
    const d = 3, mu = gaussian(d, 3), sigma = gaussian(d * d, 4), sha = 'c0ffee'.repeat(10) + '0123';
    const meta = path.join(dir, 'with-meta.npz'), plain = path.join(dir, 'plain-meta.npz');
    writeFidStats(meta, { mu, sigma, n: 7, preprocess: 'radimagenet', weights: sha });
    writeFidStats(plain, { mu, sigma });
    expect(readFidStatsMeta(meta)).to.include({ n: 7, preprocess: 'radimagenet', weights: sha });
    expect(readFidStatsMeta(plain)).to.not.have.any.keys('preprocess', 'weights');
    expect(Array.from(readFidStatsMeta(meta).mu)).to.deep.equal(Array.from(mu));
  });

  it('our files load in NumPy with identical values', function () {
    if (!pythonHas('numpy')) { this.skip(); return; }
    const d = 5, mu = gaussian(d, 3), sigma = gaussian(d * d, 4), f = path.join(dir, 'ours.npz');
    writeFidStats(f, { mu, sigma });
    writeFidStats(path.join(dir, 'with-n.npz'), { mu, sigma, n: 1234 });
    expect(readFidStats(path.join(dir, 'with-n.npz')).n).to.equal(1234);
    expect(readFidStats(f).n).to.equal(undefined);
    const out = runPython(`
import sys, numpy as np
z = np.load(sys.argv[1])
print(sorted(z.files), z['mu'].dtype, z['sigma'].shape, z['sigma'].flags['C_CONTIGUOUS'])
print(' '.join(repr(float(v)) for v in np.concatenate([z['mu'], z['sigma'].ravel()])))
w = np.load(sys.argv[2])
print(sorted(w.files), w['n'].shape, int(w['n']))
`, [f, path.join(dir, 'with-n.npz')]).trim().split('\n');
    expect(out[0]).to.equal("['mu', 'sigma'] float64 (5, 5) True");
    expect(out[1].split(' ').map(Number)).to.deep.equal([...mu, ...sigma]);
    expect(out[2]).to.equal("['mu', 'n', 'sigma'] () 1234");
  });

  it('malformed files are clear errors naming the file', () => {
    const d = 4, f = path.join(dir, 'ok.npz');
    writeFidStats(f, { mu: gaussian(d, 5), sigma: gaussian(d * d, 6) });
    const good = fs.readFileSync(f);
    const put = (name: string, b: Buffer): string => { const p = path.join(dir, name); fs.writeFileSync(p, b); return p; };
    expect(() => readNpz(put('trunc.npz', good.subarray(0, good.length - 30)))).to.throw(/trunc\.npz: not an \.npz \(zip\) file/);
    expect(() => readNpz(put('text.npz', Buffer.from('hello world, not a zip at all')))).to.throw(/text\.npz: not an \.npz/);
    const flipped = Buffer.from(good); flipped[30 + 6 + 128 + 3] ^= 0xff; // a byte of mu's data
    expect(() => readNpz(put('crc.npz', flipped))).to.throw(/crc\.npz: entry mu\.npy: CRC-32 mismatch/);
    expect(() => readNpz(path.join(dir, 'missing.npz'))).to.throw(/missing\.npz: cannot read/);
    const only = path.join(dir, 'only.npz');
    writeFidStats(only, { mu: new Float64Array(1), sigma: new Float64Array(1) });
    const noSigma = fs.readFileSync(only).toString('latin1').replaceAll('sigma.npy', 'sigmb.npy');
    expect(() => readFidStats(put('nosigma.npz', Buffer.from(noSigma, 'latin1')))).to.throw(/nosigma\.npz: FID statistics need arrays 'mu' and 'sigma'; found 'mu', 'sigmb'/);
  });
});
