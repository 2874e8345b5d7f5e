import { runCommand, type CommandOptions, type CommandResult } from '../run-command.js';
import { colorFlow } from '../colors/config.js';
import { colorDeployFlow, colorRollbackFlow, deployFlow, rollbackFlow, stagedFlow } from '../flows.js';
import { checkReleaseArg } from '../steps/rollback.js';

export function deploy(o: CommandOptions): Promise<CommandResult> {
  return runCommand('deploy', o, (s) => (o.noSwitch ? stagedFlow : colorFlow(s, o, deployFlow, colorDeployFlow)));
}

export async function rollback(o: CommandOptions): Promise<CommandResult> {
  checkReleaseArg(o.to);
  return runCommand('rollback', o, (s) => colorFlow(s, o, rollbackFlow, colorRollbackFlow));
}
