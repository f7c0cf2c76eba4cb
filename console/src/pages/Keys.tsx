// Admin: API keys — create (the secret is shown once), top up, change limits, read the ledger, revoke.
import { useCallback, useEffect, useId, useState, type FormEvent } from 'react';
import { describeError, type Api, type KeyView, type LedgerEntry } from '../api';
import { formatTime } from '../components/common';

/** A number field: empty = no limit (null). */
function parseLimit(value: string, label: string, integer = true): number | null {
  const v = value.trim();
  if (v === '') return null;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || (integer && !Number.isInteger(n))) throw new Error(`${label} must be ${integer ? 'a whole number' : 'a number'}, or empty for no limit.`);
  return n;
}

const show = (n: number | null) => (n === null ? '∞' : String(n));

interface LimitsDraft {
  name: string;
  credits: string;
  rpm: string;
  concurrency: string;
  daily_images: string;
  admin: boolean;
}

function LimitsFields({ draft, onChange, creditsLabel }: { draft: LimitsDraft; onChange(d: LimitsDraft): void; creditsLabel: string }) {
  const ids = { name: useId(), credits: useId(), rpm: useId(), concurrency: useId(), daily: useId(), admin: useId() };
  const field = (key: keyof LimitsDraft, id: string, label: string, hint?: string) => (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input id={id} inputMode="numeric" value={String(draft[key])} placeholder={hint} onChange={(e) => onChange({ ...draft, [key]: e.target.value })} />
    </div>
  );
  return (
    <div className="grid-fields">
      <div className="field">
        <label htmlFor={ids.name}>Name</label>
        <input id={ids.name} value={draft.name} required maxLength={200} onChange={(e) => onChange({ ...draft, name: e.target.value })} />
      </div>
      {field('credits', ids.credits, creditsLabel, 'unlimited')}
      {field('rpm', ids.rpm, 'Requests / minute', 'no limit')}
      {field('concurrency', ids.concurrency, 'Tasks at once', 'no limit')}
      {field('daily_images', ids.daily, 'Images / day', 'no limit')}
      <div className="field checkbox">
        <input id={ids.admin} type="checkbox" checked={draft.admin} onChange={(e) => onChange({ ...draft, admin: e.target.checked })} />
        <label htmlFor={ids.admin}>Admin key</label>
      </div>
    </div>
  );
}

function limitsBody(d: LimitsDraft) {
  return {
    name: d.name.trim(),
    credits: parseLimit(d.credits, 'Credits', false),
    rpm: parseLimit(d.rpm, 'Requests / minute'),
    concurrency: parseLimit(d.concurrency, 'Tasks at once'),
    daily_images: parseLimit(d.daily_images, 'Images / day'),
    admin: d.admin,
  };
}

const EMPTY: LimitsDraft = { name: '', credits: '', rpm: '', concurrency: '', daily_images: '', admin: false };

function CreateKey({ api, onCreated }: { api: Api; onCreated(): void }) {
  const [draft, setDraft] = useState<LimitsDraft>(EMPTY);
  const [error, setError] = useState<string | undefined>();
  const [secret, setSecret] = useState<{ key: string; name: string } | undefined>();
  const [copied, setCopied] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    try {
      if (!draft.name.trim()) throw new Error('Give the key a name.');
      const created = await api.json<KeyView & { key: string }>('/admin/keys', { json: limitsBody(draft) });
      setSecret({ key: created.key, name: created.name });
      setCopied(false);
      setDraft(EMPTY);
      onCreated();
    } catch (err) {
      setError(describeError(err));
    }
  };

  const copy = async () => {
    if (!secret) return;
    try {
      await navigator.clipboard.writeText(secret.key);
      setCopied(true);
    } catch {
      setCopied(false);
    }
  };

  return (
    <form className="card" onSubmit={submit} aria-labelledby="create-key-heading">
      <h2 id="create-key-heading">Create a key</h2>
      <LimitsFields draft={draft} onChange={setDraft} creditsLabel="Credits" />
      <div className="submit-row">
        <button type="submit" className="primary">
          Create key
        </button>
        {error && (
          <span className="error" role="alert">
            {error}
          </span>
        )}
      </div>
      {secret && (
        <div className="secret" role="status">
          <p>
            <strong>{secret.name}</strong>: copy this secret now. It is shown only once; easel keeps only its hash.
          </p>
          <div className="row">
            <code className="mono" data-testid="new-key">
              {secret.key}
            </code>
            <button type="button" className="small" onClick={copy}>
              {copied ? 'Copied' : 'Copy'}
            </button>
            <button type="button" className="small" onClick={() => setSecret(undefined)}>
              Done
            </button>
          </div>
        </div>
      )}
    </form>
  );
}

type Panel = 'topup' | 'limits' | 'ledger' | 'revoke' | undefined;

function KeyRow({ api, k, own, onChanged }: { api: Api; k: KeyView; own: boolean; onChanged(): void }) {
  const [panel, setPanel] = useState<Panel>();
  const [error, setError] = useState<string | undefined>();
  const [amount, setAmount] = useState('');
  const [note, setNote] = useState('');
  const [draft, setDraft] = useState<LimitsDraft>(EMPTY);
  const [ledger, setLedger] = useState<LedgerEntry[] | undefined>();
  const ids = { amount: useId(), note: useId() };
  const revoked = k.revoked_at !== null;

  const open = async (p: Panel) => {
    setError(undefined);
    setPanel(panel === p ? undefined : p);
    if (p === 'limits') {
      setDraft({
        name: k.name,
        credits: k.credits === null ? '' : String(k.credits),
        rpm: k.rpm === null ? '' : String(k.rpm),
        concurrency: k.concurrency === null ? '' : String(k.concurrency),
        daily_images: k.daily_images === null ? '' : String(k.daily_images),
        admin: k.admin,
      });
    }
    if (p === 'ledger' && panel !== 'ledger') {
      try {
        setLedger((await api.json<{ data: LedgerEntry[] }>(`/admin/keys/${encodeURIComponent(k.id)}/ledger?limit=50`)).data);
      } catch (err) {
        setError(describeError(err));
      }
    }
  };

  const act = async (fn: () => Promise<unknown>) => {
    setError(undefined);
    try {
      await fn();
      setPanel(undefined);
      onChanged();
    } catch (err) {
      setError(describeError(err));
    }
  };

  const topUp = (e: FormEvent) => {
    e.preventDefault();
    void act(async () => {
      const n = Number(amount);
      if (!(n > 0)) throw new Error('Enter how many credits to add (more than 0).');
      await api.json(`/admin/keys/${encodeURIComponent(k.id)}/credits`, { json: note.trim() ? { amount: n, note: note.trim() } : { amount: n } });
      setAmount('');
      setNote('');
    });
  };

  const saveLimits = (e: FormEvent) => {
    e.preventDefault();
    void act(async () => {
      const body: Record<string, unknown> = limitsBody(draft);
      // Only send the balance when it was changed: PATCH credits *sets* the balance.
      const before = k.credits === null ? '' : String(k.credits);
      if (draft.credits.trim() === before) delete body.credits;
      await api.json(`/admin/keys/${encodeURIComponent(k.id)}`, { method: 'PATCH', json: body });
    });
  };

  const revoke = () => void act(() => api.json(`/admin/keys/${encodeURIComponent(k.id)}`, { method: 'DELETE' }));

  return (
    <li className={revoked ? 'key revoked' : 'key'} data-key-id={k.id} aria-label={`Key ${k.name}`}>
      <div className="key-head">
        <div>
          <strong>{k.name}</strong> {k.admin && <span className="badge">admin</span>} {revoked && <span className="badge status-cancelled">revoked</span>}
          <div className="muted mono small-text">
            {k.id} · {k.prefix}…
          </div>
        </div>
        <dl className="key-facts">
          {(
            [
              ['Credits', k.unlimited ? '∞' : String(k.credits)],
              ['Held', String(k.credits_held)],
              ['RPM', show(k.rpm)],
              ['At once', show(k.concurrency)],
              ['Per day', show(k.daily_images)],
              ['Created', formatTime(k.created_at)],
            ] as const
          ).map(([label, value]) => (
            <div key={label}>
              <dt>{label}</dt>
              <dd>{value}</dd>
            </div>
          ))}
        </dl>
      </div>
      {!revoked && (
        <div className="key-actions">
          <button type="button" className="small" aria-expanded={panel === 'topup'} onClick={() => void open('topup')}>
            Top up
          </button>
          <button type="button" className="small" aria-expanded={panel === 'limits'} onClick={() => void open('limits')}>
            Edit limits
          </button>
          <button type="button" className="small" aria-expanded={panel === 'ledger'} onClick={() => void open('ledger')}>
            Ledger
          </button>
          <button type="button" className="small danger" aria-expanded={panel === 'revoke'} onClick={() => void open('revoke')}>
            Revoke
          </button>
        </div>
      )}
      {revoked && <p className="muted small-text">Revoked {formatTime(k.revoked_at)}.</p>}
      {panel === 'topup' && (
        <form className="panel" onSubmit={topUp} aria-label={`Top up ${k.name}`}>
          <div className="grid-fields">
            <div className="field">
              <label htmlFor={ids.amount}>Credits to add</label>
              <input id={ids.amount} inputMode="decimal" value={amount} onChange={(e) => setAmount(e.target.value)} autoFocus />
            </div>
            <div className="field">
              <label htmlFor={ids.note}>Note</label>
              <input id={ids.note} value={note} maxLength={500} onChange={(e) => setNote(e.target.value)} />
            </div>
          </div>
          <button type="submit" className="primary small">
            Add credits
          </button>
        </form>
      )}
      {panel === 'limits' && (
        <form className="panel" onSubmit={saveLimits} aria-label={`Limits of ${k.name}`}>
          <LimitsFields draft={draft} onChange={setDraft} creditsLabel="Balance (sets it)" />
          <button type="submit" className="primary small">
            Save
          </button>
        </form>
      )}
      {panel === 'ledger' && ledger && (
        <div className="panel table-wrap">
          {ledger.length === 0 ? (
            <p className="muted">No entries.</p>
          ) : (
            <table className="stack-table">
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Kind</th>
                  <th scope="col">Amount</th>
                  <th scope="col">Task</th>
                  <th scope="col">Note</th>
                </tr>
              </thead>
              <tbody>
                {ledger.map((e) => (
                  <tr key={e.id}>
                    <td data-label="When" className="nowrap">{formatTime(e.created_at)}</td>
                    <td data-label="Kind">{e.kind}</td>
                    <td data-label="Amount" className={e.amount < 0 ? 'negative' : undefined}>{e.amount > 0 ? `+${e.amount}` : e.amount}</td>
                    <td data-label="Task" className="mono">{e.task_id ?? ''}</td>
                    <td data-label="Note">{e.note ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
      )}
      {panel === 'revoke' && (
        <div className="panel confirm" role="group" aria-label={`Revoke ${k.name}`}>
          <p>
            Revoke “{k.name}”? Requests with it are refused at once. This cannot be undone.
            {own && <strong> You are signed in with this key: the console will sign you out.</strong>}
          </p>
          <button type="button" className="danger small" onClick={revoke} autoFocus>
            Yes, revoke
          </button>
          <button type="button" className="small" onClick={() => setPanel(undefined)}>
            Keep it
          </button>
        </div>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </li>
  );
}

export function Keys({ api, signedInAs }: { api: Api; signedInAs: string }) {
  const [keys, setKeys] = useState<KeyView[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [showRevoked, setShowRevoked] = useState(false);
  const revokedId = useId();

  const load = useCallback(async () => {
    try {
      setKeys((await api.json<{ data: KeyView[] }>(`/admin/keys?include_revoked=${showRevoked}`)).data);
      setError(undefined);
    } catch (err) {
      setError(describeError(err));
    }
  }, [api, showRevoked]);

  useEffect(() => {
    void load();
  }, [load]);

  return (
    <div className="stack">
      <CreateKey api={api} onCreated={() => void load()} />
      <section className="card">
        <div className="section-head">
          <h1>API keys</h1>
          <div className="field checkbox">
            <input id={revokedId} type="checkbox" checked={showRevoked} onChange={(e) => setShowRevoked(e.target.checked)} />
            <label htmlFor={revokedId}>Show revoked</label>
          </div>
        </div>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        {keys && (
          <ul className="keys" aria-label="API keys">
            {keys.map((k) => (
              <KeyRow key={k.id} api={api} k={k} own={k.id === signedInAs} onChanged={() => void load()} />
            ))}
          </ul>
        )}
      </section>
    </div>
  );
}
