// Per-epoch progress: a cli-progress bar with D/G losses, img/s and ETA on a terminal; plain log lines (every
// `every` steps and at the end) when stdout is not a TTY (CI, SLURM logs, pipes).
import { SingleBar, Presets } from 'cli-progress';

export interface ProgressValues { d: number; g: number; imgPerSec: number }

export class EpochProgress {
  private bar: SingleBar | null = null;
  private last = 0;
  constructor(readonly epoch: number, readonly epochs: number, readonly total: number, readonly opts:
    { tty?: boolean; every?: number; out?: (s: string) => void; quiet?: boolean } = {}) {
    const tty = opts.tty ?? Boolean(process.stdout.isTTY);
    if (opts.quiet) return;
    if (tty) {
      this.bar = new SingleBar({
        format: `epoch ${epoch}/${epochs} [{bar}] {value}/{total} | D {d} | G {g} | {ips} img/s | ETA {eta_formatted}`,
        hideCursor: true, clearOnComplete: false, etaBuffer: 20,
      }, Presets.shades_classic);
      this.bar.start(total, 0, { d: '-', g: '-', ips: '-' });
    }
  }

  update(step: number, v: ProgressValues): void {
    if (this.opts.quiet) return;
    const p = { d: v.d.toFixed(4), g: v.g.toFixed(4), ips: v.imgPerSec.toFixed(1) };
    if (this.bar) { this.bar.update(step, p); return; }
    const every = this.opts.every ?? Math.max(1, Math.floor(this.total / 10));
    if (step - this.last >= every || step === this.total) {
      this.last = step;
      (this.opts.out ?? ((s: string) => process.stdout.write(s)))(
        `epoch ${this.epoch}/${this.epochs} step ${step}/${this.total}  D ${p.d}  G ${p.g}  ${p.ips} img/s\n`);
    }
  }

  stop(): void {
    if (this.bar) this.bar.stop();
    this.bar = null;
  }
}
