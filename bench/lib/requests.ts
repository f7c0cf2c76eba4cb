// Requests that vary per call (autocannon's `requests` with setupRequest), shared by the
// scenarios and bench:compare so both load easel the same way.
import type { RequestSpec } from 'autocannon';

/** GETs of /v1/tasks/{id}, each for a task picked at random among `ids`. */
export function randomTaskPolls(ids: readonly string[]): RequestSpec[] {
  return [
    {
      method: 'GET',
      setupRequest: (req: { path?: string }) => {
        req.path = `/v1/tasks/${ids[Math.floor(Math.random() * ids.length)]}`;
        return req;
      },
    },
  ];
}

/** POSTs of `body`, each with the next of `keys` in turn as its bearer key. */
export function rotatingKeyPosts(body: string, headers: Record<string, string>, keys: readonly string[]): RequestSpec[] {
  let next = 0;
  return [
    {
      method: 'POST',
      body,
      setupRequest: (req: { headers?: Record<string, string> }) => {
        req.headers = { ...headers, authorization: `Bearer ${keys[next++ % keys.length]}` };
        return req;
      },
    },
  ];
}
