import type { FlowItem } from './runner.js';
import { build } from './steps/build.js';
import { connect } from './steps/connect.js';
import { finish } from './steps/finish.js';
import { health } from './steps/health.js';
import { link } from './steps/link.js';
import { lock } from './steps/lock.js';
import { migrate } from './steps/migrate.js';
import { publish } from './steps/publish.js';
import { reload } from './steps/reload.js';
import { rollback } from './steps/rollback.js';
import { switchStep } from './steps/switch.js';
import { upload } from './steps/upload.js';

/** Deploy and rollback as ordered lists of steps; hooks attach to these names. */
export const rollout: FlowItem = { rollout: [switchStep, reload, health] };

export const deployFlow: FlowItem[] = [build, connect, lock, upload, link, publish, migrate, rollout, finish];

export const rollbackFlow: FlowItem[] = [connect, lock, rollback, rollout, finish];
