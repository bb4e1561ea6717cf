// mrigan fid: FID (and optionally KID, precision/recall/density/coverage) between two image sets or statistics.
import { parseArgs } from 'util';
import { frechetDistance, kernelInceptionDistance, prdc } from '../../metrics';
import { FileError, UsageError } from '../../util/errors';
import {
  FeatureInput, RUN_HELP, RUN_OPTIONS, featuresOf, guarded, loadWeights, openInput, parseDevice, positiveInt,
  PreprocessName, preprocessing, readStats, runOptions, statsOfFeatures,
} from './stats';

export const summary = 'FID (and KID, precision/recall/density/coverage) between PNG folders, dataset files or .npz statistics';

const HELP = `usage: mrigan fid REAL FAKE [--weights FILE.h5] [options]

  REAL, FAKE            each a folder of PNG slices, a dataset file (mrigan prepare / mrigan sample), .npz
                        statistics (mrigan stats, pytorch-fid, clean-fid) or a run folder of mrigan train
                        (images generated from its latest checkpoint; RUN/checkpoints/best or a checkpoint
                        folder step-N picks another); two .npz need no weights
  --weights FILE.h5     Keras InceptionV3 notop weights (required when an input holds images)
  --preprocess P        imagenet | radimagenet: the input pipeline of the weight set (default: imagenet)
  --kid                 also KID (cubic kernel, 100 subsets of ≤ 1000, mean ± std); images only
  --prdc                also precision, recall, density, coverage (k = 5); images only
  --batch N             images per forward pass (default: 16)
  --device D            cpu, cuda or cuda:N (default: MRIGAN_DEVICE, else the first GPU, else cpu)
  --div N               channel divisor of a reduced stand-in network (tests only; default: 1)
  --json                print the result as JSON (default: false)

Values from the Keras ImageNet InceptionV3 are not comparable with pytorch-fid / TTUR papers (another graph and
weights); compare only values computed with the same weights, preprocessing and sample count.
${RUN_HELP}`;

export async function run(argv: string[]): Promise<number> {
  return guarded('fid', async () => {
    let parsed;
    try {
      parsed = parseArgs({
        args: argv, allowPositionals: true,
        options: {
          weights: { type: 'string' }, preprocess: { type: 'string' }, kid: { type: 'boolean', default: false },
          prdc: { type: 'boolean', default: false }, batch: { type: 'string', default: '16' }, device: { type: 'string' },
          div: { type: 'string', default: '1' }, json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' },
          ...RUN_OPTIONS,
        },
      });
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const { values: v, positionals } = parsed;
    if (v.help) { process.stdout.write(HELP); return 0; }
    if (positionals.length !== 2) throw new UsageError(`expected REAL and FAKE, got ${positionals.length} input(s)`);
    const pre = preprocessing(v.preprocess), batch = positiveInt(v.batch!, '--batch'), div = positiveInt(v.div!, '--div');
    const device = parseDevice(v.device), run = runOptions(v, device);
    const inputs: FeatureInput[] = [];
    try {
      inputs.push(openInput(positionals[0], 'REAL', run), openInput(positionals[1], 'FAKE', run));
      const images = inputs.some((x) => x.kind !== 'npz');
      for (const [flag, on] of [['--kid', v.kid], ['--prdc', v.prdc]] as const) {
        const npz = inputs.find((x) => x.kind === 'npz');
        if (on && npz) throw new UsageError(`${flag} needs images, not statistics (${npz.arg})`, flag);
      }
      const m = images ? await loadWeights(v.weights, div, device) : null;
      try {
        const feats = inputs.map((x) => (x.kind === 'npz' ? null : featuresOf(m!, x, pre.mode, batch)));
        const stats = inputs.map((x, i) => (x.kind === 'npz' ? readStats(x) : statsOfFeatures(feats[i]!, m!.features)));
        if (stats[0].mu.length !== stats[1].mu.length) {
          throw new FileError(inputs[1].arg, `FAKE has ${stats[1].mu.length}-d statistics but REAL has ${stats[0].mu.length}-d (${inputs[0].arg})`);
        }
        const fid = frechetDistance(stats[0], stats[1]);
        const d = stats[0].mu.length;
        const kid = v.kid ? kernelInceptionDistance(feats[0]!, feats[1]!, d) : null;
        const pr = v.prdc ? prdc(feats[0]!, feats[1]!, d) : null;
        // the pipeline of each side: the one used here for images, the recorded one (or unknown) for .npz
        const used = inputs.map((x, i) => (x.kind === 'npz' ? (stats[i] as { preprocess: PreprocessName | null }).preprocess : pre.name));
        if (used[0] && used[1] && used[0] !== used[1]) {
          const where = inputs.map((x, i) => `${i ? 'FAKE' : 'REAL'} ${used[i]}${x.kind === 'npz' ? ` (recorded in ${x.arg})` : ' (--preprocess)'}`);
          const msg = `the two sides use different preprocessing: ${where.join(', ')}; FID between them is meaningless`;
          // a --preprocess that contradicts a recorded .npz is fixed on the command line; two .npz that disagree are not
          throw images ? new UsageError(msg, '--preprocess') : new FileError(inputs[1].arg, msg);
        }
        // and the network: a recorded weights fingerprint must match the other side's (recorded or loaded here)
        const nets = inputs.map((x, i) => (x.kind === 'npz' ? (stats[i] as { weights: string | null }).weights : m!.fingerprint));
        if (nets[0] && nets[1] && nets[0] !== nets[1]) {
          const where = inputs.map((x, i) => `${i ? 'FAKE' : 'REAL'} ${nets[i]!.slice(0, 12)}…${x.kind === 'npz' ? ` (recorded in ${x.arg})` : ` (${v.weights})`}`);
          const msg = `the two sides come from different InceptionV3 weights: ${where.join(', ')}; FID between them is meaningless`;
          throw images ? new UsageError(msg, '--weights') : new FileError(inputs[1].arg, msg);
        }
        const known = used[0] ?? used[1];
        const preText = images ? pre.description
          : known ? `${preprocessing(known).description}, as recorded in the .npz`
            : 'as when the .npz statistics were computed (not recorded in the files; both must use the same)';
        const side = (i: number) => ({ input: inputs[i].arg, kind: inputs[i].kind, n: stats[i].n ?? null });
        if (v.json) {
          process.stdout.write(`${JSON.stringify({
            fid: fid.fid, real: side(0), fake: side(1), d, weights: images ? v.weights : null,
            preprocess: known ?? null, preprocessing: preText, warnings: fid.warnings,
            terms: { meanTerm: fid.meanTerm, trace1: fid.trace1, trace2: fid.trace2, traceSqrt: fid.traceSqrt },
            ...(kid ? { kid: { value: kid.kid, std: kid.std, subsets: kid.subsets, subsetSize: kid.subsetSize } } : {}),
            ...(pr ? { prdc: pr } : {}),
          })}\n`);
        } else {
          const n = (i: number) => (stats[i].n === undefined ? 'n unknown' : `n = ${stats[i].n}`);
          let t = `FID ${fid.fid.toFixed(4)}  (REAL ${inputs[0].arg}: ${n(0)}; FAKE ${inputs[1].arg}: ${n(1)}; d = ${d})\n`;
          t += `preprocessing: ${preText}\n`;
          if (kid) t += `KID ${kid.kid.toExponential(4)} ± ${kid.std.toExponential(2)}  (${kid.subsets} subsets of ${kid.subsetSize})\n`;
          if (pr) t += `precision ${pr.precision.toFixed(4)}  recall ${pr.recall.toFixed(4)}  density ${pr.density.toFixed(4)}  coverage ${pr.coverage.toFixed(4)}  (k = ${pr.k})\n`;
          for (const w of fid.warnings) t += `warning: ${w}\n`;
          process.stdout.write(t);
        }
        return 0;
      } finally { m?.dispose(); }
    } finally { for (const x of inputs) x.close(); }
  });
}
