// One task: its state (live while it runs), results, parameters, provider and attempts,
// warnings, cost, and its webhook deliveries with a re-send button.
import { useCallback, useEffect, useState } from 'react';
import { ApiError, describeError, type Api, type AttemptList, type Delivery, type KieRecord, type TaskInput, type UnifiedTask } from '../api';
import { Gallery, ProgressBar, StatusBadge, formatMs, formatTime, plural } from '../components/common';
import { followTask, isFinal } from '../generate';
import { href, linkClick } from '../router';

interface Extras {
  params?: unknown;
  revisedPrompt?: string | null;
  finishedAt?: number | null;
  attempts?: AttemptList;
  attemptsError?: string;
  deliveries?: Delivery[];
  deliveriesError?: string;
  inputs?: TaskInput[];
}

async function settle<T>(p: Promise<T>): Promise<{ value?: T; error?: string }> {
  try {
    return { value: await p };
  } catch (err) {
    return { error: err instanceof ApiError && err.status === 404 ? 'Not available on this server.' : describeError(err) };
  }
}

export function TaskDetail({ api, id }: { api: Api; id: string }) {
  const [task, setTask] = useState<UnifiedTask | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [extras, setExtras] = useState<Extras>({});
  const [cancelError, setCancelError] = useState<string | undefined>();
  const [retry, setRetry] = useState<{ busy: boolean; error?: string; done?: string }>({ busy: false });
  const path = encodeURIComponent(id);

  const loadExtras = useCallback(async () => {
    // Parameters as the client sent them: kie's record-info shows any task of the caller's (paramJson).
    const [record, attempts, deliveries, inputs] = await Promise.all([
      settle(api.json<{ data: KieRecord }>(`/api/v1/gpt4o-image/record-info?taskId=${path}`)),
      settle(api.json<AttemptList>(`/v1/tasks/${path}/attempts`)),
      settle(api.json<{ data: Delivery[] }>(`/v1/tasks/${path}/deliveries`)),
      settle(api.json<{ data: TaskInput[] }>(`/v1/tasks/${path}/inputs`)),
    ]);
    let params: unknown = undefined;
    try {
      params = record.value ? JSON.parse(record.value.data.paramJson) : undefined;
    } catch {
      params = record.value?.data.paramJson;
    }
    setExtras({
      params,
      revisedPrompt: record.value?.data.revisedPrompt ?? null,
      finishedAt: record.value?.data.completeTime ?? null,
      attempts: attempts.value,
      attemptsError: attempts.error,
      deliveries: deliveries.value?.data,
      deliveriesError: deliveries.error,
      inputs: inputs.value?.data,
    });
  }, [api, path]);

  useEffect(() => {
    const controller = new AbortController();
    setTask(undefined);
    setError(undefined);
    (async () => {
      try {
        let t = await api.json<UnifiedTask>(`/v1/tasks/${path}`, { signal: controller.signal });
        setTask(t);
        void loadExtras();
        if (!isFinal(t)) {
          t = await followTask(api, id, (progress, status) => setTask((cur) => (cur && !isFinal(cur) ? { ...cur, progress, status: status as UnifiedTask['status'] } : cur)), controller.signal);
          setTask(t);
          void loadExtras();
        }
      } catch (err) {
        if (!controller.signal.aborted) setError(describeError(err));
      }
    })();
    return () => controller.abort();
  }, [api, id, path, loadExtras]);

  const cancel = async () => {
    setCancelError(undefined);
    try {
      setTask(await api.json<UnifiedTask>(`/v1/tasks/${path}/cancel`, { method: 'POST' }));
    } catch (err) {
      setCancelError(describeError(err));
    }
  };

  // After a re-send, watch the deliveries until the new attempt has an outcome.
  const [watching, setWatching] = useState(0);
  useEffect(() => {
    if (watching === 0) return;
    let live = true;
    let polls = 0;
    const timer = setInterval(async () => {
      try {
        const list = await api.json<{ data: Delivery[] }>(`/v1/tasks/${path}/deliveries`);
        if (!live) return;
        setExtras((x) => ({ ...x, deliveries: list.data }));
        if (!list.data.some((d) => d.status === 'pending') || ++polls >= 30) {
          clearInterval(timer);
          setRetry((r) => ({ ...r, done: undefined }));
        }
      } catch {
        clearInterval(timer);
      }
    }, 1000);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [api, path, watching]);

  const resend = async () => {
    setRetry({ busy: true });
    try {
      const list = await api.json<{ data: Delivery[] }>(`/v1/tasks/${path}/deliveries/retry`, { method: 'POST' });
      setExtras((x) => ({ ...x, deliveries: list.data }));
      setRetry({ busy: false, done: 'Sending it again now.' });
      setWatching((n) => n + 1);
    } catch (err) {
      setRetry({ busy: false, error: describeError(err) });
    }
  };

  const back = (
    <a href={href('/tasks')} onClick={linkClick('/tasks')}>
      ← All tasks
    </a>
  );
  if (error) {
    return (
      <section className="card">
        {back}
        <h1 className="mono">{id}</h1>
        <p className="error" role="alert">
          {error}
        </p>
      </section>
    );
  }
  if (!task) {
    return (
      <section className="card" aria-busy="true">
        {back}
        <p className="muted">Loading…</p>
      </section>
    );
  }
  const attempts = extras.attempts?.data ?? [];
  return (
    <section className="card task-detail">
      {back}
      <div className="section-head">
        <h1 className="mono">{task.id}</h1>
        <div className="run-head">
          <StatusBadge status={task.status} />
          {task.task_info.can_cancel && (
            <button type="button" className="danger" onClick={cancel}>
              Cancel task
            </button>
          )}
        </div>
      </div>
      {cancelError && (
        <p className="error" role="alert">
          {cancelError}
        </p>
      )}
      {!isFinal(task) && <ProgressBar value={task.progress} label="Task progress" />}
      {task.error && (
        <p className={task.status === 'cancelled' ? 'notice' : 'error'} role="alert">
          {task.error.message} <span className="muted">({task.error.code})</span>
        </p>
      )}

      <dl className="facts">
        <dt>Model</dt>
        <dd>{task.model}</dd>
        <dt>Created</dt>
        <dd>{formatTime(task.created)}</dd>
        <dt>Finished</dt>
        <dd>{formatMs(extras.finishedAt)}</dd>
        <dt>Provider</dt>
        <dd>{extras.attempts?.provider ?? '—'}</dd>
        <dt>Cost</dt>
        <dd>
          {plural(task.usage?.credits_reserved ?? 0, 'credit')} reserved <span className="muted">(charged per image made; failed and cancelled tasks pay nothing)</span>
        </dd>
      </dl>

      {task.status === 'completed' && (
        <>
          <h2>Results</h2>
          <Gallery taskId={task.id} urls={task.results ?? []} />
        </>
      )}

      {extras.inputs && extras.inputs.length > 0 && (
        <>
          <h2>Inputs</h2>
          <Inputs inputs={extras.inputs} />
        </>
      )}

      <h2>Parameters</h2>
      {extras.params !== undefined ? <pre className="json">{JSON.stringify(extras.params, null, 2)}</pre> : <p className="muted">—</p>}
      {extras.revisedPrompt && extras.revisedPrompt !== (extras.params as { prompt?: unknown } | undefined)?.prompt && (
        <p>
          <strong>Prompt used:</strong> {extras.revisedPrompt}
        </p>
      )}

      <h2>Warnings</h2>
      {task.warnings && task.warnings.length > 0 ? (
        <ul className="warnings">
          {task.warnings.map((w, i) => (
            <li key={i}>
              {w.setting && <code>{w.setting}</code>} {w.details ?? w.message ?? w.type}
            </li>
          ))}
        </ul>
      ) : (
        <p className="muted">None.</p>
      )}

      <h2>Attempts</h2>
      {extras.attemptsError && <p className="muted">{extras.attemptsError}</p>}
      {attempts.length === 0 && !extras.attemptsError && <p className="muted">No upstream calls yet.</p>}
      {attempts.length > 0 && (
        <div className="table-wrap">
          <table className="stack-table">
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">Provider</th>
                <th scope="col">Model</th>
                <th scope="col">Outcome</th>
                <th scope="col">Started</th>
                <th scope="col">Took</th>
                <th scope="col">HTTP</th>
                <th scope="col">Error</th>
              </tr>
            </thead>
            <tbody>
              {attempts.map((a) => (
                <tr key={`${a.run}-${a.attempt}`}>
                  <td data-label="#">{a.attempt}</td>
                  <td data-label="Provider">
                    {a.provider}
                    {a.provider_type && <span className="muted"> ({a.provider_type})</span>}
                  </td>
                  <td data-label="Model">{a.model ?? '—'}</td>
                  <td data-label="Outcome">{a.outcome}</td>
                  <td data-label="Started" className="nowrap">{formatMs(a.started_at)}</td>
                  <td data-label="Took">{a.duration_ms === null ? '—' : `${(a.duration_ms / 1000).toFixed(1)} s`}</td>
                  <td data-label="HTTP">{a.http_status ?? '—'}</td>
                  <td data-label="Error">{a.error ? `${a.error.message} (${a.error.code})` : ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}

      <h2>Webhook deliveries</h2>
      {extras.deliveriesError && <p className="muted">{extras.deliveriesError}</p>}
      {extras.deliveries && extras.deliveries.length === 0 && <p className="muted">No callbacks: the task was submitted without a callback URL, or has not ended yet.</p>}
      {extras.deliveries?.map((d) => (
        <div className="delivery" key={d.id}>
          <p>
            <strong>{d.event}</strong> → <span className="mono">{d.url}</span> · <span className={`badge delivery-${d.status}`}>{d.status}</span> · {d.attempts}/{d.max_attempts} attempts
            {d.next_attempt_at && <> · next {formatMs(d.next_attempt_at)}</>}
          </p>
          {d.attempt_log.length > 0 && (
            <div className="table-wrap">
              <table className="stack-table">
                <thead>
                  <tr>
                    <th scope="col">#</th>
                    <th scope="col">When</th>
                    <th scope="col">Outcome</th>
                    <th scope="col">HTTP</th>
                    <th scope="col">Took</th>
                    <th scope="col">Error</th>
                  </tr>
                </thead>
                <tbody>
                  {d.attempt_log.map((a) => (
                    <tr key={a.attempt}>
                      <td data-label="#">{a.attempt}</td>
                      <td data-label="When" className="nowrap">{formatMs(a.started_at)}</td>
                      <td data-label="Outcome">{a.outcome}</td>
                      <td data-label="HTTP">{a.status_code ?? '—'}</td>
                      <td data-label="Took">{a.duration_ms === null ? '—' : `${a.duration_ms} ms`}</td>
                      <td data-label="Error">{a.error ?? ''}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </div>
      ))}
      {extras.deliveries && extras.deliveries.length > 0 && (
        <div className="submit-row">
          <button type="button" onClick={resend} disabled={retry.busy}>
            Re-send callback
          </button>
          {retry.error && (
            <span className="error" role="alert">
              {retry.error}
            </span>
          )}
          {retry.done && <span className="notice" role="status">{retry.done}</span>}
        </div>
      )}
    </section>
  );
}

/** The reference images and mask as easel stored them: what the provider was given. */
function Inputs({ inputs }: { inputs: TaskInput[] }) {
  return (
    <ul className="gallery" aria-label="Inputs">
      {inputs.map((input) => {
        const label = input.kind === 'mask' ? 'Mask' : `Reference ${(input.index ?? 0) + 1}`;
        return (
          <li key={`${input.kind}-${input.index ?? 'mask'}`}>
            <figure>
              {input.url ? (
                <a href={input.url} target="_blank" rel="noreferrer">
                  <img src={input.url} alt={`${label} (${input.param})`} loading="lazy" />
                </a>
              ) : (
                <p className="muted">{input.state === 'deleted' ? 'Deleted after its retention period.' : 'Not stored: it was not fetched, or it was refused.'}</p>
              )}
              <figcaption>
                <span>
                  {label} <span className="muted">{input.source === 'url' ? 'fetched' : 'uploaded'}</span>
                  {input.mask_semantics && <span className="muted"> · {input.mask_semantics}</span>}
                </span>
              </figcaption>
            </figure>
          </li>
        );
      })}
    </ul>
  );
}
