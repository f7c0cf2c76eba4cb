// The caller's tasks, newest first, with filters: status, model and a date range.
import { useCallback, useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { describeError, type Api, type ModelList, type TaskList, type UnifiedTask } from '../api';
import { ProgressBar, StatusBadge, formatTime } from '../components/common';
import { href, linkClick } from '../router';

const STATUSES: Array<[string, string]> = [
  ['', 'Any status'],
  ['queued', 'Queued'],
  ['running', 'Running'],
  ['succeeded', 'Completed'],
  ['failed', 'Failed'],
  ['cancelled', 'Cancelled'],
];

interface Filters {
  status: string;
  model: string;
  from: string;
  to: string;
}

const DAY_MS = 86_400_000;

/** A yyyy-mm-dd date (local time) as unix ms at its start. */
function dayStart(date: string): number {
  const [y, m, d] = date.split('-').map(Number);
  return new Date(y!, m! - 1, d!).getTime();
}

function query(filters: Filters, before?: number): string {
  const q = new URLSearchParams({ limit: '20' });
  if (filters.status) q.set('status', filters.status);
  if (filters.model) q.set('model', filters.model);
  const end = filters.to ? dayStart(filters.to) + DAY_MS : undefined;
  const cursor = before ?? end;
  if (cursor !== undefined) q.set('before', String(Math.min(cursor, end ?? cursor)));
  return `/v1/tasks?${q}`;
}

export function Tasks({ api }: { api: Api }) {
  const [draft, setDraft] = useState<Filters>({ status: '', model: '', from: '', to: '' });
  const [filters, setFilters] = useState<Filters>(draft);
  const [tasks, setTasks] = useState<UnifiedTask[]>([]);
  const [next, setNext] = useState<number | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | undefined>();
  const [models, setModels] = useState<string[]>([]);
  const [actionError, setActionError] = useState<{ id: string; message: string } | undefined>();
  const ids = { status: useId(), model: useId(), from: useId(), to: useId() };
  const generation = useRef(0);

  const from = filters.from ? dayStart(filters.from) : undefined;
  const keep = useCallback((list: UnifiedTask[]) => (from === undefined ? list : list.filter((t) => t.created * 1000 >= from)), [from]);

  const load = useCallback(
    async (quiet = false) => {
      const mine = ++generation.current;
      if (!quiet) setLoading(true);
      try {
        const page = await api.json<TaskList>(query(filters));
        if (mine !== generation.current) return;
        const kept = keep(page.data);
        setTasks(kept);
        setNext(page.has_more && kept.length === page.data.length ? page.next_before : null);
        setError(undefined);
      } catch (err) {
        if (mine === generation.current) setError(describeError(err));
      } finally {
        if (mine === generation.current) setLoading(false);
      }
    },
    [api, filters, keep],
  );

  useEffect(() => {
    void load();
  }, [load]);

  useEffect(() => {
    api
      .json<ModelList>('/v1/models')
      .then((l) => setModels(l.data.map((m) => m.id)))
      .catch(() => undefined);
  }, [api]);

  // While a task on the page is still going, keep the list fresh.
  const active = tasks.some((t) => t.status === 'pending' || t.status === 'processing');
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(() => void load(true), 4000);
    return () => clearInterval(timer);
  }, [active, load]);

  const more = async () => {
    if (next === null) return;
    try {
      const page = await api.json<TaskList>(query(filters, next));
      const kept = keep(page.data);
      setTasks((t) => [...t, ...kept]);
      setNext(page.has_more && kept.length === page.data.length ? page.next_before : null);
    } catch (err) {
      setError(describeError(err));
    }
  };

  const apply = (e: FormEvent) => {
    e.preventDefault();
    setFilters({ ...draft });
  };

  const cancel = async (task: UnifiedTask) => {
    setActionError(undefined);
    try {
      const updated = await api.json<UnifiedTask>(`/v1/tasks/${encodeURIComponent(task.id)}/cancel`, { method: 'POST' });
      setTasks((list) => list.map((t) => (t.id === updated.id ? updated : t)));
    } catch (err) {
      setActionError({ id: task.id, message: describeError(err) });
    }
  };

  return (
    <section className="card">
      <div className="section-head">
        <h1>Tasks</h1>
        <button type="button" onClick={() => void load()} disabled={loading}>
          Refresh
        </button>
      </div>
      <form className="filters" onSubmit={apply} aria-label="Filter tasks">
        <div className="field">
          <label htmlFor={ids.status}>Status</label>
          <select id={ids.status} value={draft.status} onChange={(e) => setDraft({ ...draft, status: e.target.value })}>
            {STATUSES.map(([v, l]) => (
              <option key={v} value={v}>
                {l}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={ids.model}>Model</label>
          <select id={ids.model} value={draft.model} onChange={(e) => setDraft({ ...draft, model: e.target.value })}>
            <option value="">Any model</option>
            {models.map((m) => (
              <option key={m}>{m}</option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={ids.from}>From</label>
          <input id={ids.from} type="date" value={draft.from} onChange={(e) => setDraft({ ...draft, from: e.target.value })} />
        </div>
        <div className="field">
          <label htmlFor={ids.to}>To</label>
          <input id={ids.to} type="date" value={draft.to} onChange={(e) => setDraft({ ...draft, to: e.target.value })} />
        </div>
        <div className="field actions">
          <button type="submit" className="primary">
            Apply
          </button>
        </div>
      </form>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {!error && !loading && tasks.length === 0 && <p className="muted">No tasks match.</p>}
      {tasks.length > 0 && (
        <div className="table-wrap">
          <table className="tasks-table stack-table">
            <thead>
              <tr>
                <th scope="col">Created</th>
                <th scope="col">Task</th>
                <th scope="col">Model</th>
                <th scope="col">Status</th>
                <th scope="col">Progress</th>
                <th scope="col">Credits</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {tasks.map((t) => (
                <tr key={t.id} data-task-id={t.id}>
                  <td data-label="Created" className="nowrap">{formatTime(t.created)}</td>
                  <td data-label="Task">
                    <a className="mono" href={href(`/tasks/${encodeURIComponent(t.id)}`)} onClick={linkClick(`/tasks/${encodeURIComponent(t.id)}`)}>
                      {t.id}
                    </a>
                  </td>
                  <td data-label="Model">{t.model}</td>
                  <td data-label="Status">
                    <StatusBadge status={t.status} />
                  </td>
                  <td className="progress-cell" data-label="Progress">
                    {t.status === 'processing' || t.status === 'pending' ? <ProgressBar value={t.progress} label={`Progress of ${t.id}`} /> : t.status === 'completed' ? '100%' : '—'}
                  </td>
                  <td data-label="Credits">{t.usage?.credits_reserved ?? '—'}</td>
                  <td className="actions-cell">
                    {t.task_info.can_cancel && (
                      <button type="button" className="small danger" onClick={() => void cancel(t)} aria-label={`Cancel ${t.id}`}>
                        Cancel
                      </button>
                    )}
                    {actionError?.id === t.id && (
                      <span className="error" role="alert">
                        {actionError.message}
                      </span>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {next !== null && (
        <button type="button" onClick={() => void more()}>
          Load more
        </button>
      )}
    </section>
  );
}
