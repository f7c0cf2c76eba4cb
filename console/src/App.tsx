// The console's frame: sign-in, navigation, and the page for the current URL.
import { useEffect, useMemo, useRef, useState } from 'react';
import { Api, ApiError } from './api';
import { Keys } from './pages/Keys';
import { Playground } from './pages/Playground';
import { SignIn, identify, type Identity } from './pages/SignIn';
import { TaskDetail } from './pages/TaskDetail';
import { Tasks } from './pages/Tasks';
import { UsagePage } from './pages/UsagePage';
import { href, linkClick, useRoute, type Route } from './router';
import { forgetKey, loadKey, saveKey } from './session';

const NAV: Array<{ path: string; label: string; pages: Route['page'][]; admin?: boolean }> = [
  { path: '/', label: 'Playground', pages: ['playground'] },
  { path: '/tasks', label: 'Tasks', pages: ['tasks', 'task'] },
  { path: '/keys', label: 'Keys', pages: ['keys'], admin: true },
  { path: '/usage', label: 'Usage', pages: ['usage'] },
];

const TITLES: Record<Route['page'], string> = {
  playground: 'Playground',
  tasks: 'Tasks',
  task: 'Task',
  keys: 'Keys',
  usage: 'Usage',
  'not-found': 'Not found',
};

export function App() {
  const route = useRoute();
  const [identity, setIdentity] = useState<Identity | undefined>();
  const [checking, setChecking] = useState(() => loadKey() !== undefined);
  const [notice, setNotice] = useState<string | undefined>();
  const main = useRef<HTMLElement>(null);
  // A key that stops working while signed in (revoked here or elsewhere) signs the console out.
  const api = useMemo(
    () =>
      identity
        ? new Api(identity.key, (message) => {
            forgetKey();
            setNotice(`You were signed out: the server no longer accepts this key (${message.replace(/\.$/, '')}). Sign in with another key.`);
            setIdentity(undefined);
          })
        : undefined,
    [identity],
  );

  // A key kept from earlier in this tab: check it is still good.
  useEffect(() => {
    const stored = loadKey();
    if (!stored) return;
    identify(stored)
      .then(setIdentity)
      .catch((err) => {
        if (err instanceof ApiError && err.status === 401) {
          forgetKey();
          setNotice('Your key is no longer valid; sign in again.');
        } else setNotice(err instanceof Error ? err.message : String(err));
      })
      .finally(() => setChecking(false));
  }, []);

  useEffect(() => {
    document.title = `${TITLES[route.page]} · easel console`;
  }, [route.page]);

  // Move focus to the page when it changes, so keyboard and screen-reader users land on it.
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    main.current?.focus();
  }, [route]);

  const signIn = (id: Identity) => {
    saveKey(id.key);
    setNotice(undefined);
    setIdentity(id);
  };
  const signOut = () => {
    forgetKey();
    setIdentity(undefined);
  };

  if (checking) return <p className="muted center">Loading…</p>;
  if (!identity || !api) return <SignIn onSignedIn={signIn} notice={notice} />;

  let page;
  switch (route.page) {
    case 'playground':
      page = <Playground api={api} />;
      break;
    case 'tasks':
      page = <Tasks api={api} />;
      break;
    case 'task':
      page = <TaskDetail api={api} id={route.id} />;
      break;
    case 'keys':
      page = identity.admin ? (
        <Keys api={api} signedInAs={identity.keyId} />
      ) : (
        <section className="card">
          <h1>API keys</h1>
          <p className="error" role="alert">
            Managing keys needs an admin key; this key ({identity.keyId}) is not one.
          </p>
        </section>
      );
      break;
    case 'usage':
      page = <UsagePage api={api} />;
      break;
    default:
      page = (
        <section className="card">
          <h1>Not found</h1>
          <p>
            Nothing at <code>{route.path}</code>.{' '}
            <a href={href('/')} onClick={linkClick('/')}>
              Go to the playground
            </a>
            .
          </p>
        </section>
      );
  }

  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="top">
        <a className="brand" href={href('/')} onClick={linkClick('/')}>
          easel <span>console</span>
        </a>
        <nav aria-label="Console">
          <ul>
            {NAV.filter((n) => !n.admin || identity.admin).map((n) => (
              <li key={n.path}>
                <a href={href(n.path)} onClick={linkClick(n.path)} aria-current={n.pages.includes(route.page) ? 'page' : undefined}>
                  {n.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div className="who">
          <span className="mono" title="Signed-in key">
            {identity.keyId}
          </span>
          {identity.admin && <span className="badge">admin</span>}
          <button type="button" className="small" onClick={signOut}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" ref={main} tabIndex={-1}>
        {page}
      </main>
    </>
  );
}
