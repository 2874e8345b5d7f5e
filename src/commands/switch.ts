import { runCommand, type CommandOptions, type CommandResult } from '../run-command.js';
import { colorFlow } from '../colors/config.js';
import { colorSwitchFlow, switchFlow } from '../flows.js';
import { checkReleaseArg } from '../steps/rollback.js';

/**
 * `ship switch <stage> [<release>]`: promotes `next` (or the named release), or completes
 * a paused canary, with the stage's strategy: reload, health checks and auto-rollback as
 * in a deploy. `next` is removed on each host once it is live there.
 */
export async function switchRelease(o: CommandOptions & { release?: string }): Promise<CommandResult> {
  checkReleaseArg(o.release);
  return runCommand('switch', { ...o, to: o.release }, (s) => colorFlow(s, o, switchFlow, colorSwitchFlow));
}
