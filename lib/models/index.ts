// The two pinned architectures (docs/design.md §4): builders by name for the CLI and the trainer.
import { Sequential } from '../nn';
import { ModelOptions, Role } from './common';
import { dcganGenerator, dcganDiscriminator, dcganCritic } from './dcgan';
import { cepa2024Generator, cepa2024Discriminator } from './cepa2024';

export * from './common';
export * from './dcgan';
export * from './cepa2024';

export type Arch = 'dcgan' | 'cepa2024';
export const ARCHS: readonly Arch[] = ['dcgan', 'cepa2024'];

/** Latent size of an architecture's generator under options o. */
export const latentSize = (arch: Arch, o: ModelOptions = {}): number => o.latent ?? (arch === 'dcgan' ? 100 : 128);

/**
 * Builds a network by architecture and role. 'critic' is the WGAN-GP critic: for dcgan the textbook one (no BN,
 * biases on); for cepa2024 the paper's critic, which is its discriminator (BN and sigmoid included).
 */
export function buildModel(arch: Arch, role: Role, o: ModelOptions = {}): Sequential {
  if (arch === 'dcgan') return role === 'generator' ? dcganGenerator(o) : role === 'critic' ? dcganCritic(o) : dcganDiscriminator(o);
  if (arch === 'cepa2024') return role === 'generator' ? cepa2024Generator(o) : cepa2024Discriminator(o);
  throw new Error(`unknown architecture '${arch}' (expected ${ARCHS.join(' or ')})`);
}

/** The input shape of a network for a batch of n. */
export function inputShape(arch: Arch, role: Role, n: number, o: ModelOptions = {}): number[] {
  return role === 'generator' ? [n, latentSize(arch, o)] : [n, o.channels ?? 1, o.size ?? 256, o.size ?? 256];
}
