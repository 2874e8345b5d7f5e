import type { Ctx, HostRun } from '../context.js';

/** One named step of a flow; hooks attach to its name (`before:upload`). */
export interface Step {
  name: string;
  description: string;
  run(ctx: Ctx, hosts: HostRun[]): Promise<void>;
  /** Why the step has nothing to do in this stage ('not configured'), or undefined: reported as skipped, never done. */
  skip?(ctx: Ctx, hosts: HostRun[]): string | undefined;
}
