// Up to five reference images: uploaded files or image URLs.
import { useId, useState } from 'react';
import type { Reference } from '../generate';

export const MAX_REFERENCES = 5;
const ACCEPTED = ['image/png', 'image/jpeg', 'image/webp'];

let counter = 0;
const nextId = () => `ref-${++counter}`;

function imageSize(url: string): Promise<{ width: number; height: number }> {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve({ width: img.naturalWidth, height: img.naturalHeight });
    img.onerror = () => reject(new Error('not a readable image'));
    img.src = url;
  });
}

interface Props {
  references: Reference[];
  onChange(references: Reference[]): void;
}

export function ReferenceImages({ references, onChange }: Props) {
  const [url, setUrl] = useState('');
  const [error, setError] = useState<string | undefined>();
  const fileId = useId();
  const urlId = useId();
  const errorId = useId();
  const room = MAX_REFERENCES - references.length;

  const addFiles = async (files: FileList | null) => {
    setError(undefined);
    if (!files || files.length === 0) return;
    const list = [...files];
    if (list.length > room) {
      setError(`At most ${MAX_REFERENCES} reference images: ${room === 0 ? 'remove one first' : `room for ${room} more`}.`);
      return;
    }
    const added: Reference[] = [];
    for (const file of list) {
      if (!ACCEPTED.includes(file.type)) {
        setError(`${file.name} is not a PNG, JPEG or WebP image.`);
        return;
      }
      const preview = URL.createObjectURL(file);
      try {
        const { width, height } = await imageSize(preview);
        added.push({ kind: 'file', id: nextId(), file, preview, width, height });
      } catch {
        URL.revokeObjectURL(preview);
        setError(`${file.name} could not be read as an image.`);
        return;
      }
    }
    onChange([...references, ...added]);
  };

  const addUrl = (e: { preventDefault(): void }) => {
    e.preventDefault();
    setError(undefined);
    const value = url.trim();
    if (!value) return;
    if (room <= 0) return setError(`At most ${MAX_REFERENCES} reference images.`);
    try {
      const parsed = new URL(value);
      if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new Error();
    } catch {
      return setError('Enter an http(s) URL of an image.');
    }
    onChange([...references, { kind: 'url', id: nextId(), url: value }]);
    setUrl('');
  };

  const remove = (ref: Reference) => {
    if (ref.kind === 'file') URL.revokeObjectURL(ref.preview);
    onChange(references.filter((r) => r !== ref));
  };

  return (
    <fieldset className="references">
      <legend>Reference images <span className="muted">(optional, up to {MAX_REFERENCES})</span></legend>
      <div className="reference-inputs">
        <div className="field">
          <label htmlFor={fileId}>Upload</label>
          <input
            id={fileId}
            type="file"
            accept={ACCEPTED.join(',')}
            multiple
            disabled={room <= 0}
            aria-describedby={error ? errorId : undefined}
            onChange={(e) => {
              void addFiles(e.target.files);
              e.target.value = '';
            }}
          />
        </div>
        <div className="field url-field">
          <label htmlFor={urlId}>or an image URL</label>
          <div className="row">
            <input
              id={urlId}
              type="url"
              inputMode="url"
              placeholder="https://example.com/photo.png"
              value={url}
              disabled={room <= 0}
              onChange={(e) => setUrl(e.target.value)}
              onKeyDown={(e) => {
                if (e.key === 'Enter') addUrl(e);
              }}
            />
            <button type="button" onClick={addUrl} disabled={room <= 0 || !url.trim()}>
              Add URL
            </button>
          </div>
        </div>
      </div>
      {error && (
        <p className="error" role="alert" id={errorId}>
          {error}
        </p>
      )}
      {references.length > 0 && (
        <ul className="reference-list" aria-label="Reference images">
          {references.map((r, i) => (
            <li key={r.id}>
              {/* A link the browser cannot show (not an image, or not reachable from here) keeps its
                  place without a broken-image icon: the server fetches it, and says so if it fails. */}
              <img src={r.kind === 'file' ? r.preview : r.url} alt="" onError={(e) => e.currentTarget.classList.add('unshown')} />
              <span className="reference-name">
                {i + 1}. {r.kind === 'file' ? `${r.file.name} (${r.width}×${r.height})` : r.url}
              </span>
              <button type="button" className="small" onClick={() => remove(r)} aria-label={`Remove reference ${i + 1}`}>
                Remove
              </button>
            </li>
          ))}
        </ul>
      )}
    </fieldset>
  );
}
