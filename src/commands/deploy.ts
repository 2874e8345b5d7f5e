import { runCommand, type CommandOptions, type CommandResult } from '../api.js';
import { deployFlow, rollbackFlow, stagedFlow } from '../flows.js';
import { checkReleaseArg } from '../steps/rollback.js';

export function deploy(o: CommandOptions): Promise<CommandResult> {
  return runCommand('deploy', o, o.noSwitch ? stagedFlow : deployFlow);
}

export async function rollback(o: CommandOptions): Promise<CommandResult> {
  checkReleaseArg(o.to);
  return runCommand('rollback', o, rollbackFlow);
}
