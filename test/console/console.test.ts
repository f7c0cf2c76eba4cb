// The web console end to end, in Debian's Chromium against the real server: sign in, upload an
// image and paint a mask over it, generate (live progress, partial images), see and download the
// result, cancel a slow task, create, top up and revoke a key, the usage chart, a narrow screen.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import sharp from 'sharp';
import type { Page } from 'playwright-core';
import { eventually, startTestServer, type TestServer } from '../helpers/server.js';
import { startReceiver, type Receiver } from '../delivery/receiver.js';
import { openBrowser, type Browser } from './browser.js';

const W = 512;
const H = 384;

/** A picture to edit: one of the local renderer's landscapes, cut to 4:3. */
async function photo(s: TestServer): Promise<Buffer> {
  const res = await s.api('POST', '/v1/images/generations', { model: 'gpt-image-1', prompt: 'mountains over a lake at dusk [[easel:delay=0]]', size: '1536x1024' });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const png = Buffer.from(res.body.data[0].b64_json as string, 'base64');
  return sharp(png).resize(W, H, { fit: 'cover' }).png().toBuffer();
}

async function rgba(data: Uint8Array): Promise<{ data: Buffer; width: number; height: number }> {
  const out = await sharp(data).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: out.data, width: out.info.width, height: out.info.height };
}

function pixel(img: { data: Buffer; width: number }, x: number, y: number): number[] {
  const i = (Math.round(y) * img.width + Math.round(x)) * 4;
  return [...img.data.subarray(i, i + 4)];
}

async function noHorizontalScroll(page: Page): Promise<void> {
  const { scroll, client, wide } = await page.evaluate(() => {
    const client = document.documentElement.clientWidth;
    const wide = Array.from(document.querySelectorAll('body *'))
      .filter((el) => el.getBoundingClientRect().right > client + 1)
      .slice(0, 5)
      .map((el) => `<${el.tagName.toLowerCase()} class="${el.getAttribute('class') ?? ''}">`);
    return { scroll: document.documentElement.scrollWidth, client, wide };
  });
  assert.ok(scroll <= client, `the page scrolls sideways (${scroll}px wide in a ${client}px window): ${wide.join(', ')}`);
}

/** Every table cell on the page lies within the window (no table the user must scroll sideways). */
async function cellsInView(page: Page): Promise<void> {
  const outside = await page.evaluate(() => {
    const client = document.documentElement.clientWidth;
    return Array.from(document.querySelectorAll('main td'))
      .filter((td) => td.getBoundingClientRect().width > 0 && td.getBoundingClientRect().right > client + 1)
      .slice(0, 3)
      .map((td) => `<td data-label="${td.getAttribute('data-label') ?? ''}">${(td.textContent ?? '').slice(0, 30)}`);
  });
  assert.deepEqual(outside, [], 'table cells off the right edge of a narrow window');
}

describe('web console', { timeout: 240_000 }, () => {
  let s: TestServer;
  let b: Browser;
  let page: Page;
  let editTaskId = '';
  let receiver: Receiver | undefined;

  before(async () => {
    // The local renderer takes 1.5 s per task, so progress and partial images have time to show.
    // A callback that fails is not retried on its own, so the console's Re-send is what sends it again.
    s = await startTestServer({ env: { EASEL_LOCAL_DELAY_MS: '1500', EASEL_WEBHOOK_RETRY_SCHEDULE: 'none' } });
    b = await openBrowser();
    page = b.page;
  });

  after(async () => {
    await b?.close();
    await s?.close();
    await receiver?.close();
  });

  it('signs in with an API key (kept in sessionStorage), and says why a wrong key is refused', async () => {
    await page.goto(`${s.url}/console`);
    const keyField = page.getByLabel('API key');
    await keyField.waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.id), await keyField.getAttribute('id'), 'the key field has the focus');
    await b.screenshot('sign-in');

    await page.keyboard.type('sk-easel-not-a-real-key-000000');
    await page.keyboard.press('Enter');
    await page.getByRole('alert').filter({ hasText: 'Invalid or revoked API key' }).waitFor();

    await keyField.fill(s.key);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Playground' }).waitFor();
    const stored = await page.evaluate(() => ({ session: sessionStorage.getItem('easel.console.key'), local: localStorage.length }));
    assert.equal(stored.session, s.key);
    assert.equal(stored.local, 0, 'nothing is kept beyond the session');

    // A reload keeps the session.
    await page.reload();
    await page.getByRole('heading', { name: 'Playground' }).waitFor();
  });

  it('edits an uploaded image with a painted mask: progress, partial images, the result and its download', async () => {
    const source = await photo(s);
    await page.getByLabel('Upload').setInputFiles({ name: 'photo.png', mimeType: 'image/png', buffer: source });
    const canvas = page.getByTestId('mask-canvas');
    await canvas.waitFor();
    assert.equal(await canvas.getAttribute('width'), String(W));
    assert.equal(await canvas.getAttribute('height'), String(H));

    // Paint a horizontal stroke across the left half, at mid-height.
    const box = (await canvas.boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.15, box.y + box.height * 0.5);
    await page.mouse.down();
    for (let i = 1; i <= 10; i++) await page.mouse.move(box.x + box.width * (0.15 + 0.03 * i), box.y + box.height * 0.5);
    await page.mouse.up();
    await page.getByText('The painted area will change').waitFor();

    // Invert twice is the same mask; clear is offered once something is painted.
    await page.getByRole('button', { name: 'Invert' }).click();
    await page.getByRole('button', { name: 'Invert' }).click();
    assert.equal(await page.getByRole('button', { name: 'Clear' }).isEnabled(), true);

    await page.getByLabel('Prompt').fill('a lighthouse on the left');
    await page.getByLabel('Partial images').selectOption('2');
    assert.match((await page.getByTestId('route').textContent()) ?? '', /POST \/v1\/images\/edits.*multipart.*alpha mask/);
    await b.screenshot('playground-mask');
    await page.getByRole('button', { name: 'Generate' }).click();

    const result = page.getByRole('list', { name: 'Results' }).getByRole('img');
    await result.first().waitFor();
    assert.ok((await page.getByTestId('partial-image').count()) >= 1, 'partial images were shown while it ran');
    editTaskId = (await page.locator('.run a.mono').textContent())!.trim();
    assert.match(editTaskId, /^(img_|task)/);
    await b.screenshot('playground-result');

    // The mask went as OpenAI's alpha mask, the size of the image: painted = transparent = edit.
    const maskBytes = await s.server.results.blobs.getBytes(`inputs/${editTaskId}/mask.png`);
    assert.ok(maskBytes, 'the task kept the mask it was sent');
    const mask = await rgba(maskBytes);
    assert.deepEqual([mask.width, mask.height], [W, H]);
    assert.equal(pixel(mask, W * 0.3, H * 0.5)[3], 0, 'the painted stroke is transparent (edit)');
    assert.equal(pixel(mask, W * 0.3, H * 0.1)[3], 255, 'above the stroke is opaque (keep)');
    assert.equal(pixel(mask, W * 0.8, H * 0.5)[3], 255, 'the right half is opaque (keep)');

    // The result keeps what was not painted, pixel for pixel.
    const task = await s.api('GET', `/v1/tasks/${editTaskId}`);
    assert.equal(task.body.status, 'completed');
    const resultBytes = new Uint8Array(await (await fetch(task.body.results[0])).arrayBuffer());
    const [src, out] = [await rgba(source), await rgba(resultBytes)];
    assert.deepEqual([out.width, out.height], [W, H]);
    assert.deepEqual(pixel(out, W * 0.8, H * 0.8), pixel(src, W * 0.8, H * 0.8), 'kept area unchanged');
    assert.notDeepEqual(pixel(out, W * 0.3, H * 0.5), pixel(src, W * 0.3, H * 0.5), 'painted area edited');

    // Download: the browser saves the stored image under a name that says which task it is.
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download image 1' }).click()]);
    assert.equal(download.suggestedFilename(), `${editTaskId}-1.png`);
    const saved = fs.readFileSync((await download.path())!);
    assert.deepEqual(new Uint8Array(saved), resultBytes);
  });

  it('follows a slow task live and cancels it from its page', async () => {
    await page.getByRole('button', { name: 'Remove reference 1' }).click();
    await page.getByLabel('Model', { exact: true }).selectOption('gpt-4o-image');
    await page.getByLabel('Prompt').fill('a slow harbour at night [[easel:delay=20000]]');
    assert.match((await page.getByTestId('route').textContent()) ?? '', /POST \/v1\/images\/generations.*seed 002 task/);

    // The server's reason for refusing a request is shown by the form.
    await page.getByText('Callback', { exact: true }).click();
    await page.getByLabel('Callback URL').fill('ftp://example.com/hook');
    await page.getByRole('button', { name: 'Generate' }).click();
    const refusal = page.locator('form.playground-form').getByRole('alert');
    await refusal.waitFor();
    assert.match((await refusal.textContent()) ?? '', /callback/i);
    await page.getByLabel('Callback URL').fill('');

    await page.getByRole('button', { name: 'Generate' }).click();

    // Live progress over SSE: the bar moves while the task runs.
    await page.waitForFunction(() => {
      const bar = document.querySelector<HTMLProgressElement>('.run progress');
      return bar !== null && bar.value > 0 && bar.value < 100;
    });
    await page.locator('.run .badge', { hasText: 'Running' }).waitFor();
    const slowId = (await page.locator('.run a.mono').textContent())!.trim();
    await b.screenshot('playground-progress');

    await page.getByRole('navigation').getByRole('link', { name: 'Tasks' }).click();
    const row = page.locator(`tr[data-task-id="${slowId}"]`);
    await row.getByRole('button', { name: `Cancel ${slowId}` }).waitFor();
    await page.locator(`tr[data-task-id="${editTaskId}"]`).waitFor();
    await b.screenshot('tasks');

    // Filters: completed only hides the running task.
    await page.getByLabel('Status', { exact: true }).selectOption('succeeded');
    await page.getByRole('button', { name: 'Apply' }).click();
    await row.waitFor({ state: 'detached' });
    await page.locator(`tr[data-task-id="${editTaskId}"]`).waitFor();
    await page.getByLabel('Status', { exact: true }).selectOption('');
    // Dates (the browser runs in UTC): from tomorrow, or up to yesterday, nothing; today, all.
    const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
    await page.getByLabel('From', { exact: true }).fill(day(1));
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.getByText('No tasks match.').waitFor();
    await page.getByLabel('From', { exact: true }).fill('');
    await page.getByLabel('To', { exact: true }).fill(day(-1));
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.getByText('No tasks match.').waitFor();
    await page.getByLabel('From', { exact: true }).fill(day(0));
    await page.getByLabel('To', { exact: true }).fill(day(0));
    await page.getByRole('button', { name: 'Apply' }).click();
    await row.waitFor();
    await page.locator(`tr[data-task-id="${editTaskId}"]`).waitFor();
    await page.getByLabel('From', { exact: true }).fill('');
    await page.getByLabel('To', { exact: true }).fill('');
    await page.getByRole('button', { name: 'Apply' }).click();

    await row.getByRole('link', { name: slowId }).click();
    await page.getByRole('heading', { name: slowId }).waitFor();
    await page.getByRole('button', { name: 'Cancel task' }).click();
    await page.locator('.task-detail .badge', { hasText: 'Cancelled' }).waitFor();
    assert.equal((await s.api('GET', `/v1/tasks/${slowId}`)).body.status, 'cancelled');

    // Back in the list, it shows as cancelled.
    await page.getByRole('link', { name: '← All tasks' }).click();
    await page.locator(`tr[data-task-id="${slowId}"] .badge`, { hasText: 'Cancelled' }).waitFor();
  });

  it('shows a task in full: results, parameters, provider and attempts, cost', async () => {
    await page.goto(`${s.url}/console/tasks/${editTaskId}`);
    await page.getByRole('heading', { name: editTaskId }).waitFor();
    await page.getByRole('list', { name: 'Results' }).getByRole('img').first().waitFor();
    // What the provider was given: the uploaded reference and the painted mask, as stored.
    const inputs = page.getByRole('list', { name: 'Inputs' });
    await inputs.getByRole('img', { name: /^Reference 1 / }).waitFor();
    await inputs.getByRole('img', { name: /^Mask / }).waitFor();
    await page.getByText('"prompt": "a lighthouse on the left"').waitFor();
    await page.getByRole('heading', { name: 'Attempts' }).waitFor();
    await page.locator('.facts dd', { hasText: '1 credit reserved' }).waitFor();
    const provider = page.locator('.facts dt', { hasText: 'Provider' }).locator('xpath=following-sibling::dd[1]');
    assert.notEqual((await provider.textContent())?.trim(), '—', 'the provider that served it is named');
    await b.screenshot('task-detail');
  });

  it("shows a task's webhook deliveries and re-sends one that failed", async () => {
    receiver = await startReceiver();
    receiver.on('/hook', (_req, n) => (n === 1 ? { status: 500, body: 'down for maintenance' } : { status: 204 }));
    const submitted = await s.api('POST', '/v1/images/generations', { model: 'gpt-4o-image', prompt: 'a kite [[easel:delay=0]]', callback_url: `${receiver.url}/hook` });
    assert.equal(submitted.status, 200, JSON.stringify(submitted.body));
    const id = submitted.body.id as string;
    await eventually(async () => (await s.api('GET', `/v1/tasks/${id}/deliveries`)).body.data?.[0]?.status === 'failed', 20_000, 'the first callback to fail');

    await page.goto(`${s.url}/console/tasks/${id}`);
    const delivery = page.locator('.delivery');
    await delivery.locator('.badge', { hasText: 'failed' }).waitFor();
    await delivery.getByRole('cell', { name: '500', exact: true }).waitFor();
    await page.getByRole('button', { name: 'Re-send callback' }).click();
    await delivery.locator('.badge', { hasText: 'delivered' }).waitFor();
    assert.equal(receiver.at('/hook').length, 2);
    await b.screenshot('task-deliveries');

    // Nothing left to re-send: the server's reason is shown by the button.
    await page.getByRole('button', { name: 'Re-send callback' }).click();
    await page.getByRole('alert').filter({ hasText: 'already delivered' }).waitFor();
  });

  it('creates a key (secret shown once), tops it up, and revokes it', async () => {
    await page.getByRole('navigation').getByRole('link', { name: 'Keys' }).click();
    await page.getByRole('heading', { name: 'API keys' }).waitFor();

    // A client-side mistake is explained next to the form.
    const create = page.locator('form', { has: page.getByRole('heading', { name: 'Create a key' }) });
    await create.getByLabel('Name').fill('ci robot');
    await create.getByLabel('Requests / minute').fill('lots');
    await create.getByRole('button', { name: 'Create key' }).click();
    await create.getByRole('alert').filter({ hasText: 'Requests / minute must be a whole number' }).waitFor();

    await create.getByLabel('Requests / minute').fill('60');
    await create.getByLabel('Credits').fill('10');
    await create.getByRole('button', { name: 'Create key' }).click();
    const secret = (await page.getByTestId('new-key').textContent())!.trim();
    assert.match(secret, /^sk-/);
    const usage = await fetch(`${s.url}/v1/usage`, { headers: { authorization: `Bearer ${secret}` } });
    assert.equal(usage.status, 200);
    const keyId = ((await usage.json()) as { key_id: string }).key_id;

    const row = page.locator(`li[data-key-id="${keyId}"]`);
    await row.getByRole('button', { name: 'Top up' }).click();
    await row.getByLabel('Credits to add').fill('5');
    await row.getByLabel('Note').fill('console test');
    await row.getByRole('button', { name: 'Add credits' }).click();
    await row.locator('.key-facts div', { hasText: 'Credits' }).locator('dd', { hasText: '15' }).waitFor();
    await b.screenshot('keys');

    await row.getByRole('button', { name: 'Ledger' }).click();
    await row.getByRole('cell', { name: 'console test' }).waitFor();

    // The new key signs in too, without the admin pages, and sees its own balance.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API key').fill(secret);
    await page.keyboard.press('Enter');
    await page.getByRole('alert').filter({ hasText: 'Managing keys needs an admin key' }).waitFor();
    assert.equal(await page.getByRole('navigation').getByRole('link', { name: 'Keys' }).count(), 0, 'no Keys link for a key that is not an admin');
    await page.getByRole('navigation').getByRole('link', { name: 'Usage' }).click();
    await page.locator('.stats div', { hasText: 'Balance' }).locator('dd', { hasText: '15' }).waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API key').fill(s.key);
    await page.keyboard.press('Enter');
    await page.getByRole('navigation').getByRole('link', { name: 'Keys' }).click();

    await row.getByRole('button', { name: 'Revoke' }).click();
    await row.getByRole('button', { name: 'Yes, revoke' }).click();
    await row.waitFor({ state: 'detached' });
    const refused = await fetch(`${s.url}/v1/usage`, { headers: { authorization: `Bearer ${secret}` } });
    assert.equal(refused.status, 401);
    await page.getByLabel('Show revoked').check();
    await page.locator(`li[data-key-id="${keyId}"] .badge`, { hasText: 'revoked' }).waitFor();
  });

  it('charts usage per day and model', async () => {
    await page.getByRole('navigation').getByRole('link', { name: 'Usage' }).click();
    await page.getByRole('heading', { name: 'Usage' }).waitFor();
    await page.locator('.chart svg rect').first().waitFor();
    await page.getByRole('cell', { name: 'gpt-image-1.5' }).first().waitFor();
    await b.screenshot('usage');
  });

  it('fits a narrow screen', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole('navigation').getByRole('link', { name: 'Playground' }).click();
    await page.getByRole('heading', { name: 'Playground' }).waitFor();
    await noHorizontalScroll(page);
    await b.screenshot('playground-narrow');
    await page.getByRole('navigation').getByRole('link', { name: 'Tasks' }).click();
    await page.locator(`tr[data-task-id="${editTaskId}"]`).waitFor();
    await noHorizontalScroll(page);
    await cellsInView(page);
    await b.screenshot('tasks-narrow');
    // A task's attempts and callback deliveries, and a key's ledger, are cards too.
    await page.locator(`tr[data-task-id="${editTaskId}"]`).getByRole('link', { name: editTaskId }).click();
    await page.getByRole('heading', { name: 'Attempts' }).waitFor();
    await page.locator('td[data-label="Outcome"]').first().waitFor();
    await noHorizontalScroll(page);
    await cellsInView(page);
    await page.getByRole('navigation').getByRole('link', { name: 'Keys' }).click();
    await page.getByRole('heading', { name: 'API keys' }).waitFor();
    await page.locator('li.key').first().getByRole('button', { name: 'Ledger' }).click();
    await page.locator('td[data-label="Kind"]').first().waitFor();
    await noHorizontalScroll(page);
    await cellsInView(page);
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('revoking the key it is signed in with warns first, then signs out saying why', async () => {
    const made = await s.api('POST', '/admin/keys', { name: 'short-lived admin', admin: true });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API key').fill(made.body.key);
    await page.keyboard.press('Enter');
    await page.getByRole('navigation').getByRole('link', { name: 'Keys' }).click();
    const row = page.locator(`li[data-key-id="${made.body.id}"]`);
    await row.getByRole('button', { name: 'Revoke' }).click();
    await row.getByText('You are signed in with this key').waitFor();
    await row.getByRole('button', { name: 'Yes, revoke' }).click();
    // Not a page that says "Invalid or revoked API key" on every click: back to the sign-in form.
    await page.getByLabel('API key').waitFor();
    await page.getByText('the server no longer accepts this key').waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('easel.console.key')), null);
    await page.getByLabel('API key').fill(s.key);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'API keys' }).waitFor();
  });

  it('signs out, forgetting the key', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API key').waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('easel.console.key')), null);
    assert.deepEqual(b.problems, [], 'no script errors or CSP violations');
  });
});
