import type { Ctx, HostRun } from '../context.js';

/** One named step of a flow; hooks attach to its name (`before:upload`). */
export interface Step {
  name: string;
  description: string;
  run(ctx: Ctx, hosts: HostRun[]): Promise<void>;
  /**
   * Under --dry-run the runner calls this instead of `run`: it says what the step would do
   * (log and step events) and only reads, through a transport that refuses every write.
   * A step without it runs as always under --dry-run: it must then only read.
   */
  preview?(ctx: Ctx, hosts: HostRun[]): Promise<void>;
  /** Why the step has nothing to do in this stage ('not configured'), or undefined: reported as skipped, never done. */
  skip?(ctx: Ctx, hosts: HostRun[]): string | undefined;
}
