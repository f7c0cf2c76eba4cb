// Sign in with an API key. The key is checked against the server (GET /v1/usage) before it is kept.
import { useId, useState, type FormEvent } from 'react';
import { Api, describeError, type Usage } from '../api';

export interface Identity {
  key: string;
  keyId: string;
  admin: boolean;
}

/** Checks a key and learns whether it may use the admin API. */
export async function identify(key: string): Promise<Identity> {
  const api = new Api(key);
  const usage = await api.json<Usage>('/v1/usage?days=1');
  let admin = false;
  try {
    await api.json(`/admin/keys/${encodeURIComponent(usage.key_id)}`);
    admin = true;
  } catch {
    admin = false;
  }
  return { key, keyId: usage.key_id, admin };
}

export function SignIn({ onSignedIn, notice }: { onSignedIn(identity: Identity): void; notice?: string }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const keyId = useId();
  const errorId = useId();

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const value = key.trim();
    if (!value) {
      setError('Enter an API key.');
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      onSignedIn(await identify(value));
    } catch (err) {
      setError(describeError(err));
      setBusy(false);
    }
  };

  return (
    <main id="main" className="sign-in">
      <form className="card" onSubmit={submit} noValidate>
        <h1>
          easel <span className="muted">console</span>
        </h1>
        <p>Sign in with an API key. It is kept in this tab only, until you close it or sign out.</p>
        {notice && <p className="notice">{notice}</p>}
        <div className="field">
          <label htmlFor={keyId}>API key</label>
          <input
            id={keyId}
            type="password"
            autoComplete="off"
            spellCheck={false}
            placeholder="sk-…"
            value={key}
            autoFocus
            aria-invalid={error ? true : undefined}
            aria-describedby={error ? errorId : undefined}
            onChange={(e) => setKey(e.target.value)}
          />
        </div>
        {error && (
          <p className="error" role="alert" id={errorId}>
            {error}
          </p>
        )}
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        <p className="hint">
          No key? The server prints an admin key at its first start, or run <code>easel keys create --name me</code>.
        </p>
      </form>
    </main>
  );
}
