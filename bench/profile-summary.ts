// node dist/bench/profile-summary.js <file.cpuprofile> [top]
// Where a CPU profile (node --cpu-prof; `npm run bench -- --profile` writes them under
// bench/results/profiles) spends its time: self time by function and by package, and total
// (inclusive) time by function, as percentages of the samples taken while not idle.
import fs from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

const [file, topArg] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: node dist/bench/profile-summary.js <file.cpuprofile> [top]\n');
  process.exit(2);
}
const top = Number(topArg ?? 30);
const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as { nodes: Node[]; samples: number[] };
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const hits = new Map<number, number>();
for (const s of profile.samples) hits.set(s, (hits.get(s) ?? 0) + 1);

function where(n: Node): string {
  const url = n.callFrame.url.replace(/^file:\/\//, '');
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1]!;
  if (url.includes('/dist/src/')) return 'easel ' + url.slice(url.indexOf('/dist/src/') + 10);
  if (url.startsWith('node:')) return url;
  return url || '(native)';
}
const label = (n: Node) => `${n.callFrame.functionName || '(anonymous)'}  ${where(n)}:${n.callFrame.lineNumber + 1}`;
const idle = new Set(['(idle)', '(program)', '(garbage collector)']);

let busy = 0;
const self = new Map<string, number>();
const pkg = new Map<string, number>();
const total = new Map<string, number>();
for (const [id, count] of hits) {
  const n = byId.get(id)!;
  if (n.callFrame.functionName === '(idle)') continue;
  busy += count;
  self.set(label(n), (self.get(label(n)) ?? 0) + count);
  const p = idle.has(n.callFrame.functionName) ? n.callFrame.functionName : where(n).replace(/^easel .*/, 'easel (dist/src)');
  pkg.set(p, (pkg.get(p) ?? 0) + count);
  // Inclusive: every distinct function on the stack gets the sample once.
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const l = label(byId.get(cur)!);
    if (!seen.has(l)) {
      seen.add(l);
      total.set(l, (total.get(l) ?? 0) + count);
    }
  }
}
const pct = (x: number) => `${((x / busy) * 100).toFixed(1).padStart(5)}%`;
const print = (title: string, m: Map<string, number>, n: number) => {
  process.stdout.write(`\n${title}\n`);
  for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, n)) process.stdout.write(`${pct(v)}  ${k}\n`);
};
process.stdout.write(`${file}: ${busy} busy samples\n`);
print('self time by package', pkg, 25);
print('self time by function', self, top);
print('total time by function', total, top);
