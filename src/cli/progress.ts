// A task's progress on stderr: a bar redrawn in place on a terminal, plain lines (one per change
// of state or progress) when stderr is a file or a pipe, so logs stay readable.
import type { Task, TaskEvent } from '../client/index.js';

export interface Progress {
  update(event: TaskEvent): void;
  /** Ends the display (the bar's line is finished with a newline). */
  end(): void;
}

const WIDTH = 28;
const SILENT: Progress = { update() {}, end() {} };

export function createProgress(stream: NodeJS.WriteStream, task: Task, enabled: boolean): Progress {
  if (!enabled) return SILENT;
  const started = Date.now();
  let status: string = task.status;
  let progress = task.progress;
  let last = '';
  let drawn = false;

  const line = () => {
    if (!stream.isTTY) return `${task.id} ${status} ${progress}%`;
    const filled = Math.round((progress / 100) * WIDTH);
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    return `${task.id} [${'#'.repeat(filled)}${'-'.repeat(WIDTH - filled)}] ${String(progress).padStart(3)}% ${status} ${seconds}s`;
  };
  const draw = () => {
    const text = line();
    if (stream.isTTY) {
      stream.write(`\r\x1b[2K${text}`);
      drawn = true;
    } else if (text !== last) {
      stream.write(text + '\n');
    }
    last = text;
  };
  draw();
  // On a terminal the clock keeps moving while the server is quiet.
  const timer = stream.isTTY ? setInterval(draw, 500) : undefined;
  timer?.unref();

  return {
    update(event) {
      // A state read from the database can trail the live ticks by a moment: within one status
      // the display only moves forward.
      const next = Math.max(0, Math.min(100, Math.round(event.progress)));
      const nextStatus = event.task?.status ?? status;
      progress = nextStatus === status ? Math.max(progress, next) : next;
      status = nextStatus;
      draw();
    },
    end() {
      if (timer) clearInterval(timer);
      if (drawn) stream.write('\n');
      drawn = false;
    },
  };
}
