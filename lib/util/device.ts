// The --device option of every command: cpu, cuda (= cuda:0) or cuda:N; absent = the engine's default.
import { Device, defaultDevice } from '../engine';
import { UsageError } from './errors';

export function parseDevice(d: string | undefined, option = '--device'): Device {
  if (d === undefined) return defaultDevice();
  if (d === 'cpu') return 'cpu';
  if (d === 'cuda') return 'cuda:0';
  if (/^cuda:\d{1,3}$/.test(d)) return d as Device;
  throw new UsageError(`${option} must be cpu, cuda or cuda:N, got '${d}'`, option);
}
