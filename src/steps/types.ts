import type { Ctx, HostRun } from '../context.js';

/** One named step of a flow; hooks attach to its name (`before:upload`). */
export interface Step {
  name: string;
  description: string;
  run(ctx: Ctx, hosts: HostRun[]): Promise<void>;
}
