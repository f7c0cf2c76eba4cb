// The ordered list of migrations, bundled into the build (no file I/O at run time). Names sort
// in order; add a new file with the next number and list it here.
import type { Migration } from 'kysely';
import * as m0001 from './0001-initial.js';
import * as m0002 from './0002-webhooks.js';
import * as m0003 from './0003-accounts.js';
import * as m0004 from './0004-task-attempts.js';
import * as m0005 from './0005-partial-task-indexes.js';
import * as m0006 from './0006-queued-claim-index.js';
import * as m0007 from './0007-key-balances.js';

export const migrations: Record<string, Migration> = {
  '0001-initial': m0001,
  '0002-webhooks': m0002,
  '0003-accounts': m0003,
  '0004-task-attempts': m0004,
  '0005-partial-task-indexes': m0005,
  '0006-queued-claim-index': m0006,
  '0007-key-balances': m0007,
};
