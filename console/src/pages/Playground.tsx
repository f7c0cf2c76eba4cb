// The playground: a prompt, a model and its settings, reference images with a painted mask;
// submit, watch the task's progress (and partial images as they come), get the results.
import { useEffect, useId, useMemo, useRef, useState, type FormEvent } from 'react';
import { describeError, type Api, type ModelList, type UnifiedTask } from '../api';
import { MaskEditor, type MaskHandle } from '../components/MaskEditor';
import { ReferenceImages } from '../components/ReferenceImages';
import { Gallery, ProgressBar, StatusBadge } from '../components/common';
import { isFinal, planRequest, runGeneration, type GenerateForm, type Reference } from '../generate';
import { DEFAULT_MODEL, familyOf, rulesOf } from '../models';
import { href, linkClick } from '../router';

interface Partial {
  stage: number;
  src: string;
}

interface Run {
  phase: 'sending' | 'running' | 'done' | 'error';
  route: string;
  taskId?: string;
  progress: number;
  status: string;
  partials: Partial[][];
  task?: UnifiedTask;
  error?: string;
}

const FALLBACK_MODELS = [DEFAULT_MODEL, 'gpt-image-1.5', 'gpt-image-1'];

export function Playground({ api }: { api: Api }) {
  const [models, setModels] = useState<string[]>(FALLBACK_MODELS);
  const [form, setForm] = useState<GenerateForm>({
    prompt: '',
    model: DEFAULT_MODEL,
    size: '1:1',
    n: 1,
    quality: '',
    format: '',
    partialImages: 2,
    callbackUrl: '',
    references: [],
  });
  const [hasMask, setHasMask] = useState(false);
  const [run, setRun] = useState<Run | undefined>();
  const [formError, setFormError] = useState<string | undefined>();
  const [cancelError, setCancelError] = useState<string | undefined>();
  const mask = useRef<MaskHandle>(null);
  const abort = useRef<AbortController | null>(null);
  const ids = { prompt: useId(), model: useId(), size: useId(), n: useId(), quality: useId(), format: useId(), partials: useId(), callback: useId(), error: useId(), route: useId() };

  useEffect(() => {
    api
      .json<ModelList>('/v1/models')
      .then((list) => {
        const ids = list.data.map((m) => m.id);
        if (ids.length > 0) setModels(ids.includes(DEFAULT_MODEL) ? [DEFAULT_MODEL, ...ids.filter((m) => m !== DEFAULT_MODEL)] : ids);
      })
      .catch(() => undefined);
    return () => abort.current?.abort();
  }, [api]);

  const rules = rulesOf(form.model);
  const plan = useMemo(() => planRequest(form, hasMask, models), [form, hasMask, models]);
  const first = form.references[0];
  const busy = run?.phase === 'sending' || run?.phase === 'running';
  const sizeFromImage = plan.path === '/v1/images/edits' && familyOf(form.model) === 'task';

  const set = <K extends keyof GenerateForm>(key: K, value: GenerateForm[K]) => setForm((f) => ({ ...f, [key]: value }));
  const chooseModel = (model: string) => {
    const r = rulesOf(model);
    setForm((f) => ({
      ...f,
      model,
      size: r.sizes.includes(f.size) ? f.size : r.sizes[0]!,
      n: r.counts.includes(f.n) ? f.n : r.counts[0]!,
      quality: r.qualities.includes(f.quality) ? f.quality : (r.qualities[0] ?? ''),
      format: r.formats.includes(f.format) ? f.format : (r.formats[0] ?? ''),
    }));
  };
  const setReferences = (references: Reference[]) => {
    if (references[0] !== form.references[0]) setHasMask(false);
    set('references', references);
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setFormError(undefined);
    setCancelError(undefined);
    if (!form.prompt.trim()) {
      setFormError('Write a prompt first.');
      document.getElementById(ids.prompt)?.focus();
      return;
    }
    if (plan.problem) {
      setFormError(plan.problem);
      return;
    }
    abort.current?.abort();
    const controller = new AbortController();
    abort.current = controller;
    const route = `${plan.method} ${plan.path}`;
    setRun({ phase: 'sending', route, progress: 0, status: 'pending', partials: [] });
    const update = (fn: (r: Run) => Run) => setRun((r) => (r && abort.current === controller ? fn(r) : r));
    let started = false;
    try {
      const maskBlob = hasMask && first?.kind === 'file' ? await mask.current?.exportMask() ?? null : null;
      const task = await runGeneration(
        api,
        plan,
        form,
        maskBlob,
        {
          onTask: (taskId) => {
            started = true;
            update((r) => ({ ...r, phase: 'running', taskId }));
          },
          onProgress: (progress, status) => update((r) => (r.phase === 'done' ? r : { ...r, progress: Math.max(r.progress, progress), status })),
          onPartial: (stage, src) =>
            update((r) => {
              // Partial images carry no image number: a stage 0 starts the next image, a later stage
              // continues the first image that is one stage behind.
              const partials = r.partials.map((p) => [...p]);
              const slot = stage === 0 ? -1 : partials.findIndex((p) => p[p.length - 1]?.stage === stage - 1);
              if (slot < 0) partials.push([{ stage, src }]);
              else partials[slot]!.push({ stage, src });
              return { ...r, partials };
            }),
        },
        controller.signal,
      );
      update((r) => ({ ...r, phase: 'done', task, taskId: task.id, status: task.status, progress: task.status === 'completed' ? 100 : r.progress }));
    } catch (err) {
      if (controller.signal.aborted) return;
      if (started) {
        update((r) => ({ ...r, phase: 'error', error: describeError(err) }));
      } else {
        // Refused before a task existed (a bad field, no credits, a limit): say so by the form.
        setRun(undefined);
        setFormError(describeError(err));
      }
    }
  };

  const cancel = async () => {
    if (!run?.taskId) return;
    setCancelError(undefined);
    try {
      await api.json(`/v1/tasks/${encodeURIComponent(run.taskId)}/cancel`, { method: 'POST' });
    } catch (err) {
      setCancelError(describeError(err));
    }
  };

  const finalTask = run?.task;
  return (
    <div className="playground">
      <form className="card playground-form" onSubmit={submit} noValidate aria-describedby={formError ? ids.error : undefined}>
        <h1>Playground</h1>
        <div className="field">
          <label htmlFor={ids.prompt}>Prompt</label>
          <textarea
            id={ids.prompt}
            rows={4}
            value={form.prompt}
            placeholder="a lighthouse at dusk, oil painting"
            onChange={(e) => set('prompt', e.target.value)}
            onKeyDown={(e) => {
              if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) e.currentTarget.form?.requestSubmit();
            }}
          />
        </div>
        <div className="grid-fields">
          <div className="field">
            <label htmlFor={ids.model}>Model</label>
            <select id={ids.model} value={form.model} onChange={(e) => chooseModel(e.target.value)}>
              {models.map((m) => (
                <option key={m} value={m}>
                  {m}
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor={ids.size}>{rules.sizes.some((s) => s.includes(':')) ? 'Size or ratio' : 'Size'}</label>
            {sizeFromImage ? (
              <select id={ids.size} value="auto" disabled aria-describedby={ids.route}>
                <option value="auto">auto (as image)</option>
              </select>
            ) : (
              <select id={ids.size} value={form.size} onChange={(e) => set('size', e.target.value)}>
                {rules.sizes.map((s) => (
                  <option key={s}>{s}</option>
                ))}
              </select>
            )}
          </div>
          <div className="field">
            <label htmlFor={ids.n}>Images (n)</label>
            <select id={ids.n} value={form.n} onChange={(e) => set('n', Number(e.target.value))}>
              {rules.counts.map((c) => (
                <option key={c}>{c}</option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor={ids.quality}>Quality</label>
            <select id={ids.quality} value={form.quality} disabled={rules.qualities.length === 0} onChange={(e) => set('quality', e.target.value)}>
              {rules.qualities.length === 0 ? <option value="">—</option> : rules.qualities.map((q) => <option key={q}>{q}</option>)}
            </select>
          </div>
          <div className="field">
            <label htmlFor={ids.format}>Format</label>
            <select id={ids.format} value={form.format} disabled={rules.formats.length === 0} onChange={(e) => set('format', e.target.value)}>
              {rules.formats.length === 0 ? <option value="">png</option> : rules.formats.map((f) => <option key={f}>{f}</option>)}
            </select>
          </div>
          {plan.stream && (
            <div className="field">
              <label htmlFor={ids.partials}>Partial images</label>
              <select id={ids.partials} value={form.partialImages} onChange={(e) => set('partialImages', Number(e.target.value))}>
                {[0, 1, 2, 3].map((p) => (
                  <option key={p}>{p}</option>
                ))}
              </select>
            </div>
          )}
        </div>

        <ReferenceImages references={form.references} onChange={setReferences} />

        {first?.kind === 'file' && (
          <fieldset className="mask">
            <legend>
              Mask <span className="muted">(optional, over image 1)</span>
            </legend>
            <MaskEditor ref={mask} src={first.preview} width={first.width} height={first.height} alt={`reference image 1, ${first.file.name}`} onChange={setHasMask} />
          </fieldset>
        )}
        {first?.kind === 'url' && <p className="hint">To paint a mask, upload the image instead of linking it (the browser cannot read pixels from another site).</p>}

        {plan.family === 'task' && plan.path === '/v1/images/generations' && (
          <details className="more">
            <summary>Callback</summary>
            <div className="field">
              <label htmlFor={ids.callback}>Callback URL (https)</label>
              <input id={ids.callback} type="url" value={form.callbackUrl} placeholder="https://example.com/hook" onChange={(e) => set('callbackUrl', e.target.value)} />
            </div>
          </details>
        )}

        <div className="submit-row">
          <button type="submit" className="primary" disabled={busy}>
            {busy ? 'Generating…' : 'Generate'}
          </button>
          <p className="route" data-testid="route" id={ids.route}>
            <code>
              {plan.method} {plan.path}
            </code>{' '}
            <span className="muted">{plan.how}</span>
          </p>
        </div>
        {formError && (
          <p className="error" role="alert" id={ids.error}>
            {formError}
          </p>
        )}
      </form>

      <section className="card run" aria-labelledby="run-heading" aria-live="polite" aria-busy={busy}>
        <h2 id="run-heading">Result</h2>
        {!run && <p className="muted">Your images will appear here.</p>}
        {run && (
          <>
            <div className="run-head">
              <StatusBadge status={finalTask?.status ?? run.status} />
              {run.taskId && (
                <a href={href(`/tasks/${encodeURIComponent(run.taskId)}`)} onClick={linkClick(`/tasks/${encodeURIComponent(run.taskId)}`)} className="mono">
                  {run.taskId}
                </a>
              )}
              {busy && run.taskId && (
                <button type="button" className="small danger" onClick={cancel}>
                  Cancel
                </button>
              )}
            </div>
            {cancelError && (
              <p className="error" role="alert">
                {cancelError}
              </p>
            )}
            {(busy || (finalTask && !isFinal(finalTask))) && <ProgressBar value={run.progress} label="Generation progress" />}
            {run.phase === 'error' && (
              <p className="error" role="alert">
                {run.error}
              </p>
            )}
            {finalTask?.status === 'failed' && (
              <p className="error" role="alert">
                {finalTask.error?.message ?? 'The task failed.'} {finalTask.error && <span className="muted">({finalTask.error.code})</span>}
              </p>
            )}
            {finalTask?.status === 'cancelled' && <p className="notice">The task was cancelled.</p>}
            {run.partials.length > 0 && (
              <div className={finalTask?.status === 'completed' ? 'partials done' : 'partials'}>
                <h3>Partial images</h3>
                {run.partials.map((stages, i) => (
                  <div className="partial-row" key={i}>
                    {stages.map((p) => (
                      <img key={p.stage} src={p.src} alt={`Image ${i + 1}, partial ${p.stage + 1}`} data-testid="partial-image" />
                    ))}
                  </div>
                ))}
              </div>
            )}
            {finalTask?.status === 'completed' && <Gallery taskId={finalTask.id} urls={finalTask.results ?? []} />}
            {finalTask?.warnings && finalTask.warnings.length > 0 && (
              <ul className="warnings" aria-label="Warnings">
                {finalTask.warnings.map((w, i) => (
                  <li key={i}>{w.details ?? w.message ?? w.type}</li>
                ))}
              </ul>
            )}
          </>
        )}
      </section>
    </div>
  );
}
