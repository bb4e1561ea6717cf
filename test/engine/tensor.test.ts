import { expect } from 'chai';
import { Tensor, engineInfo, defaultDevice, hostMemStats, hostEmptyCache, hostResetPeak } from '../../lib/engine';
import { nativeUnchecked as native } from '../../lib/engine/native';  // misuse tests call the addon with wrong arguments

describe('tensor', () => {
  it('round-trips data and shape', () => {
    const t = Tensor.fromArray([1, 2, 3, 4, 5, 6], [2, 3]);
    expect(t.shape).to.deep.equal([2, 3]);
    expect(t.device).to.equal('cpu');
    expect(t.toArray()).to.deep.equal([1, 2, 3, 4, 5, 6]);
    t.dispose();
    expect(t.disposed).to.equal(true);
  });

  it('zeros, full, reshape shares storage, clone does not', () => {
    const z = Tensor.zeros([3, 1, 2]);
    expect(z.toArray()).to.deep.equal([0, 0, 0, 0, 0, 0]);
    const f = Tensor.full([2, 2], -2.5);
    expect(f.toArray()).to.deep.equal([-2.5, -2.5, -2.5, -2.5]);
    const r = f.reshape([4]);
    expect(r.sharesStorageWith(f)).to.equal(true);
    const c = f.clone();
    expect(c.sharesStorageWith(f)).to.equal(false);
    c.copyFrom(Tensor.fromArray([1, 2, 3, 4], [2, 2]));
    expect(f.toArray()).to.deep.equal([-2.5, -2.5, -2.5, -2.5]);
    expect(c.toArray()).to.deep.equal([1, 2, 3, 4]);
  });

  it('reports the engine and picks cpu without a GPU', () => {
    const i = engineInfo();
    expect(i.threads).to.be.greaterThan(0);
    if (i.cudaDevices === 0) expect(defaultDevice()).to.equal('cpu');
  });

  it('rejects bad arguments with errors that name them', () => {
    expect(() => Tensor.fromArray([1, 2, 3], [2, 2])).to.throw(/holds 4 values but the data has 3/);
    expect(() => Tensor.zeros([2, -1])).to.throw(/shape.*negative/);
    expect(() => Tensor.zeros([1e6, 1e6, 1e6])).to.throw(/too large/);
    expect(() => Tensor.zeros([2, 1.5])).to.throw(/integers/);
    expect(() => Tensor.full([2], NaN)).to.throw(/value.*finite/);
    expect(() => Tensor.zeros([2], 'cuda:7' as 'cpu')).to.throw(/not available/);
    expect(() => Tensor.zeros([2], 'gpu' as 'cpu')).to.throw(/'cpu', 'cuda' or 'cuda:N'/);
    const t = Tensor.zeros([2]);
    t.dispose();
    expect(() => t.toFloat32Array()).to.throw(/disposed/);
    expect(() => t.reshape([1, 2])).to.throw(/disposed/);
    expect(() => native().reshape({}, [2])).to.throw(/must be a Tensor/);
    expect(() => Tensor.zeros([4]).reshape([3])).to.throw(/cannot reshape/);
  });
});

describe('tidy', () => {
  it('disposes what it created except the result and kept tensors', async () => {
    const { tidy, keep } = await import('../../lib/engine');
    const outer = Tensor.zeros([2]);
    let inner!: Tensor;
    let kept!: Tensor;
    const r = tidy(() => {
      inner = Tensor.zeros([3]);
      kept = keep(Tensor.zeros([1]));
      return { out: Tensor.full([2], 1), n: 3 };
    });
    expect(inner.disposed).to.equal(true);
    expect(kept.disposed).to.equal(false);
    expect(r.out.disposed).to.equal(false);
    expect(outer.disposed).to.equal(false);
    // nested: the inner result joins the outer scope and is freed with it
    let nestedResult!: Tensor;
    tidy(() => {
      nestedResult = tidy(() => Tensor.zeros([1]));
      expect(nestedResult.disposed).to.equal(false);
    });
    expect(nestedResult.disposed).to.equal(true);
  });

  it('disposes everything when fn throws', async () => {
    const { tidy } = await import('../../lib/engine');
    let t!: Tensor;
    expect(() => tidy(() => { t = Tensor.zeros([1]); throw new Error('boom'); })).to.throw('boom');
    expect(t.disposed).to.equal(true);
  });
});

describe('host memory (core/host_alloc: large blocks cached and reused)', () => {
  const MiB = 1 << 20;
  it('reuses a disposed large block for the same size, counts live / peak / cached bytes, empties the cache', () => {
    hostEmptyCache();
    const s0 = hostMemStats();
    const caching = s0.cacheLimit >= 4 * MiB;  // 0 with MRIGAN_HOST_CACHE_MB=0 and in sanitizer builds
    const a = Tensor.full([MiB / 4], 7);       // 1 MiB
    const s1 = hostMemStats();
    expect(s1.liveBytes - s0.liveBytes).to.equal(MiB);
    expect(s1.systemAllocs - s0.systemAllocs).to.equal(1);
    a.dispose();
    const s2 = hostMemStats();
    expect(s2.liveBytes).to.equal(s0.liveBytes);
    expect(s2.cachedBytes - s0.cachedBytes).to.equal(caching ? MiB : 0);
    // same size, and 1/16 smaller (within the 1/8 the cache accepts): both from the cache; zeros() still zeroes
    const b = Tensor.zeros([MiB / 4]);
    expect(b.toFloat32Array().every((v) => v === 0)).to.equal(true);
    const s3 = hostMemStats();
    expect(s3.cacheHits - s2.cacheHits).to.equal(caching ? 1 : 0);
    expect(s3.systemAllocs - s2.systemAllocs).to.equal(caching ? 0 : 1);
    b.dispose();
    const c = Tensor.zeros([(MiB - MiB / 16) / 4]);
    expect(hostMemStats().cacheHits - s3.cacheHits).to.equal(caching ? 1 : 0);
    c.dispose();
    // half the size is not served from the 1 MiB block
    const d = Tensor.zeros([MiB / 8]);
    expect(hostMemStats().systemAllocs - s3.systemAllocs).to.equal(caching ? 1 : 2);
    d.dispose();
    // small tensors never enter the cache
    const before = hostMemStats().cachedBytes;
    Tensor.zeros([1000]).dispose();
    expect(hostMemStats().cachedBytes).to.equal(before);
    hostResetPeak();
    expect(hostMemStats().peakBytes).to.equal(hostMemStats().liveBytes);
    expect(native().peakBytes('cpu')).to.equal(hostMemStats().peakBytes);
    hostEmptyCache();
    expect(hostMemStats().cachedBytes).to.equal(0);
  });
});
