// The signed-in key's usage: balance, holds, limits, today, and images and credits per day and model.
import { useEffect, useId, useState } from 'react';
import { describeError, type Api, type Usage } from '../api';
import { plural } from '../components/common';
import { UsageChart } from '../components/UsageChart';

const show = (n: number | null) => (n === null ? 'no limit' : String(n));

export function UsagePage({ api }: { api: Api }) {
  const [days, setDays] = useState(30);
  const [metric, setMetric] = useState<'images' | 'credits'>('images');
  const [usage, setUsage] = useState<Usage | undefined>();
  const [error, setError] = useState<string | undefined>();
  const ids = { days: useId(), metric: useId() };

  useEffect(() => {
    let live = true;
    api
      .json<Usage>(`/v1/usage?days=${days}`)
      .then((u) => live && (setUsage(u), setError(undefined)))
      .catch((err) => live && setError(describeError(err)));
    return () => {
      live = false;
    };
  }, [api, days]);

  return (
    <section className="card">
      <div className="section-head">
        <h1>Usage</h1>
        <div className="row">
          <div className="field">
            <label htmlFor={ids.days}>Period</label>
            <select id={ids.days} value={days} onChange={(e) => setDays(Number(e.target.value))}>
              <option value={7}>7 days</option>
              <option value={30}>30 days</option>
              <option value={90}>90 days</option>
            </select>
          </div>
          <div className="field">
            <label htmlFor={ids.metric}>Show</label>
            <select id={ids.metric} value={metric} onChange={(e) => setMetric(e.target.value as 'images' | 'credits')}>
              <option value="images">Images</option>
              <option value="credits">Credits</option>
            </select>
          </div>
        </div>
      </div>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {usage && (
        <>
          <dl className="stats">
            <div>
              <dt>Balance</dt>
              <dd>{usage.unlimited ? 'unlimited' : usage.credits}</dd>
            </div>
            <div>
              <dt>Held by running tasks</dt>
              <dd>{usage.credits_held}</dd>
            </div>
            <div>
              <dt>Images today</dt>
              <dd>
                {usage.today.images}
                {usage.limits.daily_images !== null && <span className="muted"> / {usage.limits.daily_images}</span>}
              </dd>
            </div>
            <div>
              <dt>Open tasks</dt>
              <dd>
                {usage.today.open_tasks}
                {usage.limits.concurrency !== null && <span className="muted"> / {usage.limits.concurrency}</span>}
              </dd>
            </div>
            <div>
              <dt>Requests / minute</dt>
              <dd>{show(usage.limits.rpm)}</dd>
            </div>
            <div>
              <dt>
                {usage.start_date} – {usage.end_date}
              </dt>
              <dd>
                {plural(usage.totals.images, 'image')} · {plural(usage.totals.credits, 'credit')}
              </dd>
            </div>
          </dl>
          <UsageChart usage={usage} metric={metric} />
          {usage.data.length > 0 && (
            <div className="table-wrap">
              <table>
                <caption className="visually-hidden">Usage per day and model</caption>
                <thead>
                  <tr>
                    <th scope="col">Day (UTC)</th>
                    <th scope="col">Model</th>
                    <th scope="col">Tasks</th>
                    <th scope="col">Images</th>
                    <th scope="col">Credits</th>
                  </tr>
                </thead>
                <tbody>
                  {usage.data.map((r) => (
                    <tr key={`${r.date}-${r.model}`}>
                      <td>{r.date}</td>
                      <td>{r.model}</td>
                      <td>{r.tasks}</td>
                      <td>{r.images}</td>
                      <td>{r.credits}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </>
      )}
    </section>
  );
}
