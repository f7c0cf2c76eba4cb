// A task's result images, each with a download link (the signed links are same-origin, so the
// browser saves them under a useful name).
function extension(url: string): string {
  try {
    const m = /\.(png|jpe?g|webp)$/i.exec(new URL(url, location.href).pathname);
    return m ? m[1]!.toLowerCase().replace('jpeg', 'jpg') : 'png';
  } catch {
    return 'png';
  }
}

export function Gallery({ taskId, urls }: { taskId: string; urls: string[] }) {
  if (urls.length === 0) return <p className="muted">No images.</p>;
  return (
    <ul className="gallery" aria-label="Results">
      {urls.map((url, i) => {
        const name = `${taskId}-${i + 1}.${extension(url)}`;
        return (
          <li key={url}>
            <figure>
              <a href={url} target="_blank" rel="noreferrer">
                <img src={url} alt={`Result ${i + 1} of ${urls.length}`} loading="lazy" />
              </a>
              <figcaption>
                <span>Image {i + 1}</span>
                <a className="button small" href={url} download={name}>
                  Download<span className="visually-hidden"> image {i + 1}</span>
                </a>
              </figcaption>
            </figure>
          </li>
        );
      })}
    </ul>
  );
}

export function ProgressBar({ value, label }: { value: number; label: string }) {
  return (
    <div className="progress">
      <progress max={100} value={Math.max(0, Math.min(100, value))} aria-label={label} />
      <span aria-hidden="true">{Math.round(value)}%</span>
    </div>
  );
}

const STATUS_LABELS: Record<string, string> = {
  pending: 'Queued',
  processing: 'Running',
  completed: 'Completed',
  failed: 'Failed',
  cancelled: 'Cancelled',
};

export function StatusBadge({ status }: { status: string }) {
  return <span className={`badge status-${status}`}>{STATUS_LABELS[status] ?? status}</span>;
}

export function formatTime(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return '—';
  return new Date(seconds * 1000).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

/** "1 credit", "2 credits". */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export function formatMs(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? '—' : formatTime(ms / 1000);
}
