// 7: the submit and pipeline figures again on PostgreSQL (a fresh schema each), reported beside
// SQLite's. No targets yet. Not available when no PostgreSQL answers (EASEL_BENCH_PG_URL, else
// EASEL_TEST_PG_URL, else postgres://postgres@127.0.0.1:5432/test).
import { pgUnavailable } from '../lib/easel.js';
import { NotAvailable, type Scenario } from '../lib/scenario.js';
import { runPipeline } from './pipeline.js';
import { runSubmit } from './submit.js';

export const postgresScenario: Scenario = {
  name: 'postgres',
  description: 'submit and pipeline on PostgreSQL',
  async run(ctx) {
    const why = await pgUnavailable();
    if (why) throw new NotAvailable(why);
    const submit = await runSubmit(ctx, 'postgres');
    const pipeline = await runPipeline(ctx, 'postgres');
    return {
      figures: { ...submit.figures, ...pipeline.figures },
      settings: { submit: submit.settings, pipeline: pipeline.settings },
      details: { submit: submit.details, pipeline: pipeline.details },
    };
  },
};
