import os from 'node:os';

/**
 * The user ship runs as on this machine: the default SSH user (as OpenSSH's %u) and the
 * name written into locks and history. Without a passwd entry (some containers): $USER,
 * then $LOGNAME, then 'unknown'.
 */
export function localUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return process.env.USER || process.env.LOGNAME || 'unknown';
  }
}
