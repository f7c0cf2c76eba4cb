// The answer body of the baseline servers: a JSON object of exactly `bytes` bytes (at least 10),
// so a baseline writes as many bytes per answer as easel does.
export function paddedJson(bytes: number): Buffer {
  const shell = '{"pad":""}';
  return Buffer.from(`{"pad":"${'x'.repeat(Math.max(0, bytes - shell.length))}"}`);
}
