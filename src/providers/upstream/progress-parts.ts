// One call split into several upstream tasks (n = 3 as 2 + 1) reports one progress: each part's
// percent weighted by how many of the call's images it makes.
import type { ProgressUpdate } from '../spec.js';

export function partProgress(counts: number[], onProgress: (u: ProgressUpdate) => void): Array<(percent: number) => void> {
  const total = counts.reduce((a, b) => a + b, 0);
  const percents = counts.map(() => 0);
  let last = -1;
  return counts.map((_, i) => (percent: number) => {
    percents[i] = Math.max(percents[i]!, Math.min(100, percent));
    const overall = Math.floor(percents.reduce((a, p, j) => a + p * counts[j]!, 0) / total);
    if (overall > last) {
      last = overall;
      onProgress({ percent: overall });
    }
  });
}
