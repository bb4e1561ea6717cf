// Shared timing loop of the CPU benchmarks: 2 warm-up calls, then repeats until `budget` seconds have passed (at least
// `lo`, at most `hi`); returns the times in ms, sorted ascending (callers take the best or the median).
export function sampleMs(fn: () => void, budget = 0.3, lo = 3, hi = 25): number[] {
  fn();
  fn();
  const times: number[] = [];
  const start = process.hrtime.bigint();
  const elapsed = (): number => Number(process.hrtime.bigint() - start) / 1e9;
  while (times.length < hi && (times.length < lo || elapsed() < budget)) {
    const t = process.hrtime.bigint();
    fn();
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return times.sort((a, b) => a - b);
}
